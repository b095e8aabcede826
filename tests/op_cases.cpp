#include "op_cases.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/eltwise.h>
#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/ops.h>

namespace gg::test {
namespace {

// n values on an evenly spaced grid over [lo, hi), shuffled, moved off the
// points in `avoid` (kinks) by half a step.
std::vector<float> grid_values(int64_t n, float lo, float hi, uint64_t seed, std::vector<float> avoid = {}) {
  std::vector<float> v(static_cast<size_t>(n));
  const double step = (double(hi) - double(lo)) / double(std::max<int64_t>(n, 1));
  for (int64_t i = 0; i < n; ++i) {
    double x = lo + (double(i) + 0.37) * step;
    if (std::abs(x) < 0.02) x += 0.05;  // off 0, the common kink
    for (float k : avoid)
      if (std::abs(x - k) < 0.02) x += 0.05;
    v[static_cast<size_t>(i)] = static_cast<float>(x);
  }
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  return v;
}

// Binary operands: a on lo + 0.1k + 0.037, b on lo + 0.1k + 0.087, so that a
// and b never come within 0.05 of each other (maximum's kink is a tie).
ParityInput lattice(Shape s, float lo, float hi, double offset, uint64_t seed) {
  ParityInput p = ParityInput::f32(std::move(s), lo, hi);
  p.gen = [=](int64_t n) {
    const auto cells = std::max<int64_t>(1, static_cast<int64_t>((double(hi) - double(lo)) / 0.1));
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(lo + 0.1 * double(i % cells) + offset);
    std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
    return v;
  };
  return p;
}


// Attributes for the tests of each GG_UNARY_P op, and the kinks they make.
struct Params {
  double p0 = 0, p1 = 0;
  std::vector<float> kinks;
};
Params test_params(OpId op) {
  switch (op) {
    case ops::id::leaky_relu: return {0.1, 0, {}};
    case ops::id::elu: return {0.7, 0, {}};
    case ops::id::softplus: return {2.0, 1.5, {0.75f}};  // linear above x = 0.75
    case ops::id::clip: return {-0.53, 0.61, {-0.53f, 0.61f}};
    default: return {};
  }
}

NodeId build_unary(Graph& g, OpId op, NodeId x) {
  const Params p = test_params(op);
  switch (op) {
    case ops::id::leaky_relu: return ops::leaky_relu(g, x, p.p0);
    case ops::id::elu: return ops::elu(g, x, p.p0);
    case ops::id::softplus: return ops::softplus(g, x, p.p0, p.p1);
    case ops::id::clip: return ops::clip(g, x, p.p0, p.p1);
    default: return ops::unary(g, op, x);
  }
}

ParityCase make(std::string name, std::vector<ParityInput> inputs, Builder build, bool grads = true) {
  return make_case(std::move(name), std::move(inputs), std::move(build), grads);
}

void eltwise_cases(std::vector<OpCase>& out) {
  for (const ops::UnaryInfo& u : ops::unary_ops())
    for (const Shape& s : {Shape{kBatch, 3, 5}, Shape{7}}) {
      const OpId op = u.op;
      out.push_back({make(std::string(u.name) + " x" + s.str(), {ranged(s, u.lo, u.hi, 3, test_params(op).kinks)},
                          [op](Graph& g, const std::vector<NodeId>& p) { return build_unary(g, op, p[0]); })});
    }
  // Same shapes, a trailing vector, both sides broadcast (batch against 1), a scalar.
  const std::pair<Shape, Shape> shapes[] = {{Shape{kBatch, 3, 5}, Shape{kBatch, 3, 5}},
                                            {Shape{kBatch, 3, 5}, Shape{5}},
                                            {Shape{1, 3, 1}, Shape{kBatch, 1, 5}},
                                            {Shape{}, Shape{kBatch, 4}}};
  for (const ops::BinaryInfo& b : ops::binary_ops())
    for (const auto& [sa, sb] : shapes) {
      const OpId op = b.op;
      out.push_back({make(std::string(b.name) + " a" + sa.str() + " b" + sb.str(),
                          {lattice(sa, b.lo, b.hi, 0.037, 5), lattice(sb, b.lo, b.hi, 0.087, 6)},
                          [op](Graph& g, const std::vector<NodeId>& p) { return ops::binary(g, op, p[0], p[1]); })});
    }
}

void reduction_and_shape_cases(std::vector<OpCase>& out) {
  struct R {
    std::vector<int> axes;
    bool keepdims;
  };
  const R rs[] = {{{1}, false}, {{0}, true}, {{1, 3}, false}, {{}, false}, {{-1}, true}, {{0, 2}, false}};
  for (const R& r : rs)
    for (OpId op : {ops::id::reduce_sum, ops::id::reduce_mean, ops::id::reduce_max}) {
      std::ostringstream name;
      name << ops::op_info(op).name << " x[N,3,4,5] axes{";
      for (int a : r.axes) name << a << ",";
      name << "}" << (r.keepdims ? " keepdims" : "");
      out.push_back({make(name.str(), {ranged(Shape{kBatch, 3, 4, 5}, -2, 2, 9)},
                          [op, r](Graph& g, const std::vector<NodeId>& p) {
                            if (op == ops::id::reduce_sum) return ops::reduce_sum(g, p[0], r.axes, r.keepdims);
                            if (op == ops::id::reduce_mean) return ops::reduce_mean(g, p[0], r.axes, r.keepdims);
                            return ops::reduce_max(g, p[0], r.axes, r.keepdims);
                          })});
    }
  // Runs longer than 65535 steps: lavapipe ends shader loops there, so a
  // reduction must be split into passes (parity only: a float sum of 77,100
  // values is too coarse for central differences).
  for (OpId op : {ops::id::reduce_sum, ops::id::reduce_max, ops::id::reduce_mean}) {
    OpCase c{make(std::string(ops::op_info(op).name) + " x[N,257,300] over everything (a run past 65535)",
                  {ranged(Shape{kBatch, 257, 300}, -2, 2, 5)},
                  [op](Graph& g, const std::vector<NodeId>& p) {
                    if (op == ops::id::reduce_sum) return ops::reduce_sum(g, p[0]);
                    if (op == ops::id::reduce_mean) return ops::reduce_mean(g, p[0], {1, 2}, true);
                    return ops::reduce_max(g, p[0], {0, 1, 2});
                  }),
             /*gradcheck=*/false};
    c.parity.tol = test::Tolerance{1e-6, 1e-3};
    out.push_back(c);
  }
  // Ties: the maximum's gradient is shared evenly (exact on both backends).
  ParityInput ties = ParityInput::f32_const(Shape{2, 4}, {1, 3, 3, 0, -1, -1, -1, -1});
  ties.differentiable = true;
  out.push_back({make("reduce_max with ties x[2,4] axes{1}", {ties},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::reduce_max(g, p[0], {1}); }),
                 /*gradcheck=*/false});
  out.push_back({make("broadcast_to [3,1] -> [N,3,4]", {ranged(Shape{3, 1}, -2, 2, 4)},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::broadcast_to(g, p[0], Shape{kBatch, 3, 4}); })});
  out.push_back({make("broadcast_to [N,1,5] -> [N,4,5]", {ranged(Shape{kBatch, 1, 5}, -2, 2, 4)},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::broadcast_to(g, p[0], Shape{kBatch, 4, 5}); })});
  out.push_back({make("reshape [N,3,4] -> [N,2,6] -> [-1,12]", {ranged(Shape{kBatch, 3, 4}, -2, 2, 4)},
                      [](Graph& g, const std::vector<NodeId>& p) {
                        return ops::reshape(g, ops::reshape(g, p[0], Shape{kBatch, 2, 6}), Shape{-1, 12});
                      })});
  out.push_back({make("reshape across the batch: [2,3,4] -> [8,-1]", {ranged(Shape{2, 3, 4}, -2, 2, 4)},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::reshape(g, p[0], Shape{8, -1}); })});
  // A value used twice: autodiff accumulates its two gradients.
  out.push_back({make("accumulate: x * x + x", {ranged(Shape{kBatch, 4}, -2, 2, 4)},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::add(g, ops::mul(g, p[0], p[0]), p[0]); })});
}

// One case for each op outside eltwise.def (their detailed cases stay in
// test_ops_gradcheck.cpp and test_backend_parity.cpp).
void nn_cases(std::vector<OpCase>& out) {
  out.push_back({make("conv2d +bias x[N,2,6,5] w[3,2,3,3] same",
                      {ranged(Shape{kBatch, 2, 6, 5}, -1, 1, 1), ranged(Shape{3, 2, 3, 3}, -1, 1, 2), ranged(Shape{3}, -1, 1, 3)},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::conv2d(g, p[0], p[1], p[2], 1, ops::Padding::same); })});
  {
    ParityInput x = ParityInput::f32_distinct(Shape{kBatch, 2, 6, 6}, 11);
    out.push_back({make("max_pool2d x[N,2,6,6] pool 2", {x},
                        [](Graph& g, const std::vector<NodeId>& p) { return ops::max_pool2d(g, p[0], 2); })});
  }
  out.push_back({make("dense x[N,7] w[7,5] b[5]", {ranged(Shape{kBatch, 7}, -1, 1, 1), ranged(Shape{7, 5}, -1, 1, 2), ranged(Shape{5}, -1, 1, 3)},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::dense(g, p[0], p[1], p[2]); })});
  out.push_back({make("matmul a[4,3]^T b[4,5]", {ranged(Shape{4, 3}, -1, 1, 1), ranged(Shape{4, 5}, -1, 1, 2)},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::matmul(g, p[0], p[1], true, false); })});
  out.push_back({make("softmax x[N,6]", {ranged(Shape{kBatch, 6}, -2, 2, 1)},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::softmax(g, p[0]); })});
  out.push_back({make("softmax_cross_entropy logits[N,5] labels", {ranged(Shape{kBatch, 5}, -2, 2, 1), ParityInput::i32(Shape{kBatch}, 5)},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::softmax_cross_entropy(g, p[0], p[1]); })});
  {
    ParityCase c = make("accuracy scores[N,5] labels", {ranged(Shape{kBatch, 5}, -2, 2, 1), ParityInput::i32(Shape{kBatch}, 5)},
                        [](Graph& g, const std::vector<NodeId>& p) { return ops::accuracy(g, p[0], p[1]); }, false);
    c.inputs[0].differentiable = false;
    out.push_back({c, false});
  }
  out.push_back({make("dropout x[N,4,5] rate 0.4", {ranged(Shape{kBatch, 4, 5}, -2, 2, 1), ParityInput::i32_const(Shape{1}, {3}),
                                                    ParityInput::i32_const(Shape{1}, {0})},
                      [](Graph& g, const std::vector<NodeId>& p) { return ops::dropout(g, p[0], p[1], p[2], 0.4, 7); })});
}

}  // namespace

ParityInput ranged(Shape s, float lo, float hi, uint64_t seed, std::vector<float> avoid) {
  ParityInput p = ParityInput::f32(std::move(s), lo, hi);
  p.gen = [=](int64_t n) { return grid_values(n, lo, hi, seed, avoid); };
  return p;
}

ParityCase make_case(std::string name, std::vector<ParityInput> inputs, Builder build, bool grads) {
  ParityCase c;
  c.name = std::move(name);
  c.inputs = std::move(inputs);
  c.build = std::move(build);
  c.grads = grads;
  return c;
}

std::vector<OpCase> op_cases() {
  std::vector<OpCase> out;
  eltwise_cases(out);
  reduction_and_shape_cases(out);
  nn_cases(out);
  shape_cases(out);
  loss_cases(out);
  pool_matmul_cases(out);
  batch_norm_cases(out);
  return out;
}

std::vector<GradInput> grad_inputs(const ParityCase& c, int64_t batch, uint64_t seed) {
  std::vector<GradInput> in;
  std::mt19937_64 rng(seed);
  for (const ParityInput& p : c.inputs) {
    GradInput g;
    g.shape = p.shape;
    g.dtype = p.dtype;
    g.differentiable = p.dtype == DType::f32 && p.differentiable;
    const int64_t n = p.shape.numel(batch);
    if (p.dtype == DType::i32) {
      if (p.igen) g.ivalues = p.igen(n);
      else
        for (int64_t i = 0; i < n; ++i) g.ivalues.push_back(static_cast<int32_t>(rng() % uint64_t(std::max(1, p.classes))));
      g.ivalues.resize(static_cast<size_t>(n));
    } else {
      g.values = p.gen ? p.gen(n) : grid_values(n, float(p.lo), float(p.hi), seed);
      g.values.resize(static_cast<size_t>(n));
    }
    in.push_back(std::move(g));
  }
  return in;
}

}  // namespace gg::test
