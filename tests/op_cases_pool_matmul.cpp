// The op test table's cases for avg_pool2d, global average pooling, batched matmul (see op_cases.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/ops.h>

#include "op_cases.h"

namespace gg::test {
namespace {

void avg_pool_cases(std::vector<OpCase>& out) {
  struct P {
    Shape x;
    int pool, stride;
    ops::Padding pad;
    const char* what;
  };
  const P ps[] = {
      {Shape{kBatch, 2, 6, 6}, 2, 0, ops::Padding::valid, "valid pool 2"},
      {Shape{kBatch, 2, 7, 9}, 3, 2, ops::Padding::valid, "valid pool 3 stride 2 (odd sizes, floor)"},
      {Shape{kBatch, 3, 7, 8}, 3, 2, ops::Padding::same, "same pool 3 stride 2 (padding both sides)"},
      {Shape{kBatch, 2, 5, 6}, 2, 1, ops::Padding::same, "same pool 2 stride 1 (padding at the end only)"},
      {Shape{2, 1, 5, 5}, 4, 3, ops::Padding::same, "same pool 4 stride 3, fixed batch"},
  };
  for (const P& p : ps)
    out.push_back({make_case("avg_pool2d x" + p.x.str() + " " + p.what, {ranged(p.x, -2, 2, 5)},
                             [p](Graph& g, const std::vector<NodeId>& in) {
                               return ops::avg_pool2d(g, in[0], p.pool, p.stride, p.pad);
                             })});
  // The backward op as a function of dy alone: its own gradient (the forward
  // pooling again) is checked too.
  out.push_back({make_case("avg_pool2d_backward dy[N,2,4,4] (same pool 3 stride 2 of [.,2,7,8])",
                           {ranged(Shape{kBatch, 2, 4, 4}, -2, 2, 6)},
                           [](Graph& g, const std::vector<NodeId>& in) {
                             const NodeId x = g.constant("pooled_x", Shape{1, 2, 7, 8}, std::vector<float>(112, 0.0f));
                             const NodeId pool = ops::avg_pool2d(g, x, 3, 2, ops::Padding::same);
                             return ops::avg_pool2d_backward(g, in[0], g.node(pool));
                           })});
  out.push_back({make_case("global_avg_pool2d x[N,3,5,4]", {ranged(Shape{kBatch, 3, 5, 4}, -2, 2, 7)},
                           [](Graph& g, const std::vector<NodeId>& in) { return ops::global_avg_pool2d(g, in[0]); })});
}

void matmul_cases(std::vector<OpCase>& out) {
  struct M {
    Shape a, b;
    bool ta, tb;
    const char* what;
  };
  const M ms[] = {
      {Shape{kBatch, 3, 4}, Shape{4, 5}, false, false, "b broadcast"},
      {Shape{2, 1, 3, 4}, Shape{3, 4, 2}, false, false, "both broadcast"},
      {Shape{kBatch, 4, 3}, Shape{kBatch, 4, 5}, true, false, "a^T, batch against batch"},
      {Shape{5, 3}, Shape{3, 2}, false, false, "2-D"},
      {Shape{1, 3, 4}, Shape{kBatch, 5, 4}, false, true, "b^T, a's batch of 1 broadcast"},
      {Shape{4, 3}, Shape{kBatch, 2, 5, 4}, true, true, "a^T b^T, 2-D a against two batch dims"},
      {Shape{2, 3, 1, 4, 3}, Shape{3, 2, 3, 2}, false, false, "alternating broadcasts (three levels)"},
      {Shape{kBatch, 6}, Shape{kBatch, 4}, true, false, "2-D, the batch as the inner dimension"},
  };
  for (const M& m : ms) {
    const std::string name = "matmul a" + m.a.str() + (m.ta ? "^T" : "") + " b" + m.b.str() + (m.tb ? "^T" : "") + " " + m.what;
    out.push_back({make_case(name, {ranged(m.a, -1, 1, 1), ranged(m.b, -1, 1, 2)},
                             [m](Graph& g, const std::vector<NodeId>& in) { return ops::matmul(g, in[0], in[1], m.ta, m.tb); })});
  }
}

}  // namespace

void pool_matmul_cases(std::vector<OpCase>& out) {
  avg_pool_cases(out);
  matmul_cases(out);
}

}  // namespace gg::test

// The table's cases check gradients against the forward and the backends
// against each other; these pin the forward down to PyTorch's and
// TensorFlow's values, worked out by hand on arange inputs.
namespace {
using namespace gg;

// Runs y = build(x) (and dx for dy = ones when asked) on the CPU: x = 0, 1, 2, ...
std::vector<float> run_on_arange(const std::vector<Shape>& shapes, const std::function<NodeId(Graph&, std::vector<NodeId>)>& build,
                                 bool dx_of_ones = false) {
  Graph g;
  std::vector<NodeId> in;
  for (size_t i = 0; i < shapes.size(); ++i) in.push_back(g.placeholder("x" + std::to_string(i), shapes[i]));
  NodeId y = build(g, in);
  if (dx_of_ones) y = vjp(g, y, g.constant("ones", g.node(y).shape, std::vector<float>(size_t(g.node(y).shape.numel()), 1.0f)), {in[0]})[0];
  std::vector<std::vector<float>> values;
  std::vector<Feed> feeds;
  for (size_t i = 0; i < shapes.size(); ++i) {
    values.emplace_back(size_t(shapes[i].numel()));
    std::iota(values.back().begin(), values.back().end(), 0.0f);
  }
  auto backend = make_backend("cpu", g, BackendOptions{2, {}});
  auto exe = backend->compile({y}, 1);
  for (size_t i = 0; i < shapes.size(); ++i)
    if (std::find(exe->inputs().begin(), exe->inputs().end(), in[i]) != exe->inputs().end())
      feeds.push_back({in[i], shapes[i], DType::f32, values[i].data()});
  exe->run(feeds);
  std::vector<float> out(size_t(g.node(y).shape.numel()));
  exe->fetch(y, out);
  return out;
}

}  // namespace

TEST_CASE("avg_pool2d and batched matmul give PyTorch's and TensorFlow's values") {
  using V = std::vector<float>;
  // PyTorch avg_pool2d(arange(35).view(1,1,5,7), 3, 2): each window's mean is its centre.
  CHECK(run_on_arange({Shape{1, 1, 5, 7}}, [](Graph& g, std::vector<NodeId> x) { return ops::avg_pool2d(g, x[0], 3, 2); }) ==
        V{8, 10, 12, 22, 24, 26});
  // TensorFlow AveragePooling2D(3, 2, 'same') on arange(16) 4x4: padding 0 above, 1 below (and
  // likewise across), each window divided by its real elements (9, 6, 6, 4).
  CHECK(run_on_arange({Shape{1, 1, 4, 4}}, [](Graph& g, std::vector<NodeId> x) {
          return ops::avg_pool2d(g, x[0], 3, 2, ops::Padding::same);
        }) == V{5, 6.5f, 11, 12.5f});
  // AveragePooling2D(2, 1, 'same') on arange(6) 2x3, and its gradient for dy = 1:
  // each element gets 1/count from every window holding it.
  const auto same2 = [](Graph& g, std::vector<NodeId> x) { return ops::avg_pool2d(g, x[0], 2, 1, ops::Padding::same); };
  CHECK(run_on_arange({Shape{1, 1, 2, 3}}, same2) == V{2, 3, 3.5f, 3.5f, 4.5f, 5});
  CHECK(run_on_arange({Shape{1, 1, 2, 3}}, same2, true) == V{0.25f, 0.5f, 0.75f, 0.75f, 1.5f, 2.25f});
  // torch.matmul(arange(8).view(2,1,2,2), arange(6).view(3,2,1)) -> [2,3,2,1].
  CHECK(run_on_arange({Shape{2, 1, 2, 2}, Shape{3, 2, 1}}, [](Graph& g, std::vector<NodeId> x) {
          return ops::matmul(g, x[0], x[1]);
        }) == V{1, 3, 3, 13, 5, 23, 5, 7, 23, 33, 41, 59});
  // The same with b given transposed ([3,1,2]^T) and its shape checks.
  CHECK(run_on_arange({Shape{2, 1, 2, 2}, Shape{3, 1, 2}}, [](Graph& g, std::vector<NodeId> x) {
          return ops::matmul(g, x[0], x[1], false, true);
        }) == V{1, 3, 3, 13, 5, 23, 5, 7, 23, 33, 41, 59});
  Graph g;
  const NodeId a = g.placeholder("a", Shape{kBatch, 3, 4}), b = g.placeholder("b", Shape{2, 4, 5});
  const NodeId v = g.placeholder("v", Shape{4});
  CHECK(g.node(ops::matmul(g, a, g.placeholder("w", Shape{4, 5}))).shape == Shape{kBatch, 3, 5});
  CHECK_THROWS_AS(ops::matmul(g, a, b), GraphError);  // N against 2
  CHECK_THROWS_AS(ops::matmul(g, a, v), GraphError);  // 1-D
  CHECK_THROWS_AS(ops::matmul(g, a, g.placeholder("w3", Shape{3, 5})), GraphError);  // inner 4 against 3
  CHECK_THROWS_AS(ops::matmul(g, g.placeholder("x2", Shape{kBatch, 4}), b), GraphError);  // N would not lead
  CHECK_THROWS_AS(ops::avg_pool2d(g, g.placeholder("img", Shape{kBatch, 1, 2, 5}), 3), GraphError);  // window > input
  CHECK_THROWS_AS(ops::global_avg_pool2d(g, a), GraphError);  // rank 3
}
