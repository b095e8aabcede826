// Backend parity: every op, its gradients and the optimizers, run on the
// Vulkan backend and on the CPU backend (the reference) from one graph with
// identical feeds, compared target by target (see parity.h for the metric);
// then a whole training step of the MNIST CNN on both.
//
// Without a Vulkan device a case prints GG_PARITY_SKIPPED and passes, unless
// GRAPHGRAD_REQUIRE_VULKAN is set (CI), which makes it a failure.
// GG_PARITY_VERBOSE=1 prints every case's worst comparison, even when it passes.
//
// Tolerances (NMSE = sum (a-b)^2 / sum b^2, b from the CPU; max-abs is scaled
// by max(1, max |b|)):
//   exact (every element ==, so NMSE 0 and max-abs 0; +0 == -0):
//     relu and relu_backward (a select), add, reshape, flatten, dropout and
//     its gradient at rates 0.3 and 0.5 (the counter hash is integer-only and
//     x * scale is one correctly rounded multiply, scale = float(1/(1-rate))),
//     accuracy (a count over arg-maxes; ties break to the first index),
//     max_pool2d forward (a selection) and max_pool2d_backward when windows
//     do not overlap (each input gets at most one dy).
//   NMSE 1e-7, max-abs 1e-4 (the default): conv2d and its gradients on small
//     channels, dense, matmul with short inner dimensions, softmax (+backward),
//     softmax_cross_entropy (+backward), max_pool2d_backward with overlapping
//     windows (sums of dy in some order): rounding in another summation order,
//     and GLSL's exp/log (3+2|x| ULP, Vulkan's precision rules) stay far below.
//   NMSE 1e-6, max-abs 1e-3: GEMMs whose inner dimension is long (dense
//     4608->128 and its x^T dy over the batch, conv2d 32->32 3x3 at MNIST size
//     whose im2col rows are 288 long and whose weight gradient sums over
//     N*24*24 pixels): the error of a K-term f32 dot product in another order
//     grows like sqrt(K) * 2^-24 relative, 1e-5..1e-6 relative for these K.
//   Optimizers (Adam, AdamW, SGD, RMSprop; 3 steps, step fed 0, 1, 2, lr_scale
//     1, 0.5, 0.1 where fed): parameters and slots NMSE 1e-7;
//     the parameter's change over the 3 steps NMSE 1e-5, since a 1-ulp
//     difference in p (~1e-7) is 1e-4 of Adam's ~1e-3 step.
//   Training (make_mnist_cnn(0), Adam, 3 steps of 32): initial parameters
//     bit-identical; after the steps every parameter NMSE 1e-5 and max-abs
//     6e-3 (= 2 * lr * 3 steps, the most two Adam trajectories can part: an
//     element whose gradient is ~0 may take a +lr or -lr step on either side),
//     their change from the initial values NMSE 1e-4, Adam slots NMSE 1e-5;
//     per-epoch loss relative difference 1e-4, accuracy within 2 images.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/frontends/dataset.h>
#include <graphgrad/frontends/idx.h>
#include <graphgrad/frontends/mnist_model.h>
#include <graphgrad/frontends/sequential.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/ops/ops.h>
#include <graphgrad/ops/optimizers.h>

#include "parity.h"

// The MNIST folder (CMake: GRAPHGRAD_MNIST_DIR); without it the training
// parity case runs on synthetic images.
#ifndef GG_MNIST_DIR
#define GG_MNIST_DIR ""
#endif

using namespace gg;
using gg::test::ParityCase;
using gg::test::ParityInput;
using gg::test::ParityResult;
using gg::test::Tolerance;

namespace {

const std::string kBackend = "vulkan";
const std::string kReference = "cpu";

const Tolerance kExact{0, 0, true};
const Tolerance kDefault{};              // NMSE 1e-7, max-abs 1e-4
const Tolerance kLongGemm{1e-6, 1e-3};   // long inner dimensions

bool verbose() {
  const char* v = std::getenv("GG_PARITY_VERBOSE");
  return v && *v && std::string(v) != "0";
}

// True when the backend under test exists here. Otherwise: a failure when
// GRAPHGRAD_REQUIRE_VULKAN is set, else a skip message and false.
bool backend_or_skip() {
  const auto why = test::backend_unavailable(kBackend);
  if (!why) return true;
  if (test::vulkan_required())
    FAIL(test::kRequireVulkanEnv << " is set, but make_backend(\"" << kBackend << "\") fails: " << *why);
  MESSAGE(test::kParitySkipMarker << ": no " << kBackend << " backend here (" << *why << "); set "
                                  << test::kRequireVulkanEnv << "=1 to make this a failure");
  return false;
}

void expect_parity(const ParityCase& c) {
  const ParityResult r = test::run_parity(c, kBackend, kReference);
  const auto* w = r.worst();
  if (verbose()) MESSAGE(c.name << ": " << std::string(r.ok() ? "ok" : "FAIL") << "; worst " << (w ? w->message() : r.error));
  INFO(c.name << ": " << r.report());
  CHECK(r.ok());
}

void expect_all(const std::vector<ParityCase>& cases) {
  for (const ParityCase& c : cases) expect_parity(c);
}

std::string pad_name(ops::Padding p) { return p == ops::Padding::same ? "same" : "valid"; }

ParityCase conv_case(Shape x, Shape w, int stride, ops::Padding pad, bool bias, Tolerance tol = kDefault) {
  std::ostringstream name;
  name << "conv2d x" << x.str() << " w" << w.str() << " stride " << stride << " " << pad_name(pad)
       << (bias ? " +bias" : " no bias");
  ParityCase c;
  c.name = name.str();
  c.inputs = {ParityInput::f32(x), ParityInput::f32(w)};
  if (bias) c.inputs.push_back(ParityInput::f32(Shape{w[0]}));
  c.build = [stride, pad, bias](Graph& g, const std::vector<NodeId>& p) {
    return ops::conv2d(g, p[0], p[1], bias ? p[2] : kNoNode, stride, pad);
  };
  c.grads = true;
  c.tol = tol;
  c.expect_ops = {"conv2d", "conv2d_backward_input", "conv2d_backward_weight"};
  if (bias) c.expect_ops.push_back("bias_grad");
  return c;
}

ParityCase pool_case(Shape x, int pool, int stride) {
  std::ostringstream name;
  name << "max_pool2d x" << x.str() << " pool " << pool << " stride " << (stride ? stride : pool);
  ParityCase c;
  c.name = name.str();
  c.inputs = {ParityInput::f32_distinct(x, 11)};
  c.build = [pool, stride](Graph& g, const std::vector<NodeId>& p) { return ops::max_pool2d(g, p[0], pool, stride); };
  c.grads = true;
  const bool overlapping = stride != 0 && stride < pool;
  c.tol = overlapping ? kDefault : kExact;
  c.exact_output = true;
  c.expect_ops = {"max_pool2d", "max_pool2d_backward"};
  return c;
}

ParityCase matmul_case(Shape a, Shape b, bool ta, bool tb, Tolerance tol = kDefault) {
  std::ostringstream name;
  name << "matmul a" << a.str() << (ta ? "^T" : "") << " b" << b.str() << (tb ? "^T" : "");
  ParityCase c;
  c.name = name.str();
  c.inputs = {ParityInput::f32(a), ParityInput::f32(b)};
  c.build = [ta, tb](Graph& g, const std::vector<NodeId>& p) { return ops::matmul(g, p[0], p[1], ta, tb); };
  c.grads = true;
  c.tol = tol;
  return c;
}

ParityCase dropout_case(Shape x, double rate) {
  std::ostringstream name;
  name << "dropout x" << x.str() << " rate " << rate << " (step 7, sample_base 3)";
  ParityCase c;
  c.name = name.str();
  c.inputs = {ParityInput::f32(x), ParityInput::i32_const(Shape{1}, {7}), ParityInput::i32_const(Shape{1}, {3})};
  c.build = [rate](Graph& g, const std::vector<NodeId>& p) { return ops::dropout(g, p[0], p[1], p[2], rate, 42); };
  c.grads = true;
  c.tol = kExact;
  c.batches = {1, 5};
  return c;
}

// Scores whose row r has its (distinct) maximum at column (3r) % C, and
// labels that match it on even rows only.
ParityInput accuracy_scores(int64_t classes) {
  ParityInput p = ParityInput::f32(Shape{kBatch, classes});
  p.differentiable = false;
  p.gen = [classes](int64_t n) {
    std::vector<float> v = test::distinct_values(n, 5);
    for (int64_t r = 0; r < n / classes; ++r) {
      float* row = v.data() + r * classes;
      std::iter_swap(std::max_element(row, row + classes), row + (3 * r) % classes);
    }
    return v;
  };
  return p;
}
ParityInput accuracy_labels(int64_t classes) {
  ParityInput p = ParityInput::i32(Shape{kBatch}, static_cast<int32_t>(classes));
  p.igen = [classes](int64_t n) {
    std::vector<int32_t> l;
    for (int64_t r = 0; r < n; ++r) l.push_back(static_cast<int32_t>((3 * r + (r % 2)) % classes));
    return l;
  };
  return p;
}

}  // namespace

TEST_SUITE("backend_parity") {

// The metric itself, so that a pass means what it says (runs without a device).
TEST_CASE("parity harness: compare() computes NMSE and max-abs, and rejects NaN, Inf and inexact values") {
  const Shape s{2, 3};
  const std::vector<float> want{1, -2, 3, 0, 0.5f, -4};
  CHECK(test::compare("same", s, want, want, kExact).ok);
  CHECK(test::compare("same", s, want, want, kExact).nmse == 0);

  std::vector<float> got = want;
  got[4] = std::nextafter(0.5f, 1.0f);  // one ulp off
  auto c = test::compare("ulp", s, got, want, kExact);
  CHECK_FALSE(c.ok);
  CHECK(c.mismatches == 1);
  CHECK(c.worst == 4);
  CHECK(c.message().find("[1,1]") != std::string::npos);  // the worst element's index
  CHECK(test::compare("ulp", s, got, want, kDefault).ok);

  got = want;
  got[2] = 3.1f;  // NMSE = 0.01 / 30.25
  c = test::compare("off", s, got, want, Tolerance{1e-3, 1});
  CHECK(c.ok);
  CHECK(c.nmse == doctest::Approx(0.01 / 30.25).epsilon(1e-4));
  CHECK(c.max_abs == doctest::Approx(0.1).epsilon(1e-4));
  CHECK(c.got == 3.1f);
  CHECK(c.want == 3.0f);
  CHECK_FALSE(test::compare("off", s, got, want, Tolerance{1e-4, 1}).ok);     // NMSE too large
  CHECK_FALSE(test::compare("off", s, got, want, Tolerance{1e-3, 0.01}).ok);  // max-abs 0.1 > 0.01 * 4

  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    got = want;
    got[5] = bad;
    c = test::compare("bad", s, got, want, Tolerance{1e30, 1e30});
    CHECK_FALSE(c.ok);
    CHECK(c.nonfinite == 1);
    CHECK_FALSE(test::compare("bad", s, want, got, Tolerance{1e30, 1e30}).ok);  // in the reference too
  }
  // +0 and -0 are equal; an all-zero reference needs an all-zero result.
  CHECK(test::compare("zeros", Shape{2}, std::vector<float>{-0.0f, 0.0f}, std::vector<float>{0.0f, 0.0f}, kExact).ok);
  CHECK_FALSE(test::compare("zeros", Shape{2}, std::vector<float>{1e-20f, 0.0f}, std::vector<float>{0.0f, 0.0f}, kDefault).ok);
  CHECK_FALSE(test::compare("size", Shape{2}, std::vector<float>{1}, std::vector<float>{1, 2}, kDefault).ok);
}

TEST_CASE("parity conv2d (+ backward_input, backward_weight, bias_grad via vjp)") {
  if (!backend_or_skip()) return;
  using ops::Padding;
  expect_all({
      conv_case({kBatch, 3, 7, 6}, {4, 3, 3, 2}, 1, Padding::valid, true),
      conv_case({kBatch, 2, 7, 5}, {3, 2, 3, 3}, 2, Padding::same, true),
      conv_case({kBatch, 1, 5, 5}, {2, 1, 3, 3}, 1, Padding::same, false),
      conv_case({kBatch, 3, 4, 5}, {5, 3, 1, 1}, 1, Padding::valid, true),    // 1x1
      conv_case({kBatch, 4, 6, 7}, {3, 4, 1, 1}, 2, Padding::same, false),    // 1x1 strided
      conv_case({kBatch, 2, 9, 8}, {3, 2, 4, 3}, 3, Padding::valid, false),   // stride 3, even kernel height
      conv_case({kBatch, 2, 6, 6}, {3, 2, 2, 2}, 1, Padding::same, true),     // same with an even kernel: uneven padding
      conv_case({kBatch, 3, 11, 13}, {8, 3, 5, 5}, 3, Padding::same, true),   // stride 3 same, odd sizes
      conv_case({kBatch, 5, 11, 13}, {8, 5, 3, 3}, 2, Padding::valid, true),
      conv_case({kBatch, 1, 28, 28}, {32, 1, 3, 3}, 1, Padding::valid, true), // the MNIST CNN's first layer
      conv_case({kBatch, 32, 26, 26}, {32, 32, 3, 3}, 1, Padding::valid, true, kLongGemm),  // and its second
  });
}

TEST_CASE("parity max_pool2d (+ backward via vjp; distinct values, so the arg-max is unambiguous)") {
  if (!backend_or_skip()) return;
  expect_all({
      pool_case({kBatch, 3, 6, 7}, 2, 0),    // odd width: the last column is dropped
      pool_case({kBatch, 2, 7, 7}, 3, 2),    // overlapping windows
      pool_case({kBatch, 1, 5, 4}, 2, 1),    // overlapping, stride 1
      pool_case({kBatch, 4, 13, 13}, 2, 0),  // odd size
      pool_case({kBatch, 3, 9, 11}, 3, 3),
      pool_case({kBatch, 2, 8, 9}, 2, 3),    // gaps between the windows (stride > pool)
      pool_case({kBatch, 32, 24, 24}, 2, 0), // the MNIST CNN's pool
  });
}

TEST_CASE("parity dense (+ backward)") {
  if (!backend_or_skip()) return;
  std::vector<ParityCase> cases;
  struct D {
    int64_t in, out;
    bool bias;
    Tolerance tol;
  };
  for (const D d : {D{7, 5, true, kDefault}, D{3, 4, false, kDefault}, D{33, 17, true, kDefault},
                    D{128, 10, true, kDefault}, D{20, 12, true, kDefault}, D{4608, 128, true, kLongGemm}}) {
    ParityCase c;
    c.name = "dense [N," + std::to_string(d.in) + "] -> " + std::to_string(d.out) + (d.bias ? " +bias" : " no bias");
    c.inputs = {ParityInput::f32(Shape{kBatch, d.in}), ParityInput::f32(Shape{d.in, d.out}, -0.1, 0.1)};
    if (d.bias) c.inputs.push_back(ParityInput::f32(Shape{d.out}));
    const bool bias = d.bias;
    c.build = [bias](Graph& g, const std::vector<NodeId>& p) { return ops::dense(g, p[0], p[1], bias ? p[2] : kNoNode); };
    c.grads = true;
    c.tol = d.tol;
    c.batches = {1, 5};
    c.expect_ops = {"dense"};
    cases.push_back(std::move(c));
  }
  expect_all(cases);
}

TEST_CASE("parity matmul: every transpose combination, and the batch as the inner dimension") {
  if (!backend_or_skip()) return;
  std::vector<ParityCase> cases;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      cases.push_back(matmul_case(ta ? Shape{4, 3} : Shape{3, 4}, tb ? Shape{5, 4} : Shape{4, 5}, ta, tb));
      cases.push_back(matmul_case(ta ? Shape{33, 17} : Shape{17, 33}, tb ? Shape{19, 33} : Shape{33, 19}, ta, tb));
    }
  // The batch as the rows of the result, with b plain and transposed.
  cases.push_back(matmul_case({kBatch, 6}, {6, 9}, false, false));
  cases.push_back(matmul_case({kBatch, 6}, {9, 6}, false, true));
  // The batch as the inner dimension: x^T dy, the shape of a dense weight gradient.
  cases.push_back(matmul_case({kBatch, 3}, {kBatch, 2}, true, false));
  cases.push_back(matmul_case({kBatch, 31}, {kBatch, 7}, true, false));
  // dy w^T with a long inner dimension, as in dense 4608 -> 128's input gradient.
  cases.push_back(matmul_case({kBatch, 128}, {4608, 128}, false, true, kLongGemm));
  for (ParityCase& c : cases) c.expect_ops = {"matmul"};
  expect_all(cases);
}

TEST_CASE("parity relu (+ backward), add, reshape, flatten: exact") {
  if (!backend_or_skip()) return;
  std::vector<ParityCase> cases;
  for (const Shape& s : {Shape{kBatch, 3, 5}, Shape{kBatch, 7, 9, 11}}) {
    ParityCase c;
    c.name = "relu " + s.str();
    c.inputs = {ParityInput::f32_distinct(s, 3)};
    c.build = [](Graph& g, const std::vector<NodeId>& p) { return ops::relu(g, p[0]); };
    c.grads = true;
    c.tol = kExact;
    c.expect_ops = {"relu", "relu_backward"};
    cases.push_back(std::move(c));
  }
  for (const Shape& s : {Shape{kBatch, 4}, Shape{kBatch, 3, 5, 7}}) {
    ParityCase c;
    c.name = "add " + s.str();
    c.inputs = {ParityInput::f32(s), ParityInput::f32(s)};
    c.build = [](Graph& g, const std::vector<NodeId>& p) { return add(g, p[0], p[1]); };
    c.grads = true;
    c.tol = kExact;
    c.expect_ops = {"accumulate"};
    cases.push_back(std::move(c));
  }
  {
    ParityCase c;
    c.name = "add of a value used twice: relu(x) + x, whose gradient autodiff sums";
    c.inputs = {ParityInput::f32_distinct(Shape{kBatch, 6, 5}, 5)};
    c.build = [](Graph& g, const std::vector<NodeId>& p) { return add(g, ops::relu(g, p[0]), p[0]); };
    c.grads = true;
    c.tol = kExact;
    c.expect_ops = {"accumulate", "relu", "relu_backward"};
    cases.push_back(std::move(c));
  }
  {
    ParityCase c;
    c.name = "flatten [N,2,3,2]";
    c.inputs = {ParityInput::f32(Shape{kBatch, 2, 3, 2})};
    c.build = [](Graph& g, const std::vector<NodeId>& p) { return ops::flatten(g, p[0]); };
    c.grads = true;
    c.tol = kExact;
    cases.push_back(std::move(c));
  }
  {
    ParityCase c;
    c.name = "reshape [N,12] -> [N,3,4], then relu (a reshape feeding a kernel)";
    c.inputs = {ParityInput::f32_distinct(Shape{kBatch, 12}, 9)};
    c.build = [](Graph& g, const std::vector<NodeId>& p) { return ops::relu(g, ops::reshape(g, p[0], Shape{kBatch, 3, 4})); };
    c.grads = true;
    c.tol = kExact;
    c.expect_ops = {"reshape"};
    cases.push_back(std::move(c));
  }
  {
    ParityCase c;
    c.name = "flatten of a conv output, then dense (the CNN's conv -> dense seam)";
    c.inputs = {ParityInput::f32(Shape{kBatch, 2, 6, 5}), ParityInput::f32(Shape{3, 2, 3, 3}),
                ParityInput::f32(Shape{3 * 4 * 3, 4})};
    c.build = [](Graph& g, const std::vector<NodeId>& p) {
      return ops::dense(g, ops::flatten(g, ops::conv2d(g, p[0], p[1], kNoNode)), p[2], kNoNode);
    };
    c.grads = true;
    cases.push_back(std::move(c));
  }
  for (ParityCase& c : cases) c.batches = {1, 3};
  expect_all(cases);
}

TEST_CASE("parity dropout at rates 0.3 and 0.5 (+ backward): bit for bit") {
  if (!backend_or_skip()) return;
  expect_all({
      dropout_case({kBatch, 5, 3}, 0.3),
      dropout_case({kBatch, 5, 3}, 0.5),
      dropout_case({kBatch, 32, 12, 12}, 0.3),
      dropout_case({kBatch, 129}, 0.5),
  });
}

TEST_CASE("parity softmax (+ backward)") {
  if (!backend_or_skip()) return;
  std::vector<ParityCase> cases;
  struct S {
    int64_t classes;
    double range;
  };
  for (const S s : {S{7, 1}, S{10, 4}, S{10, 30}, S{1000, 3}}) {
    ParityCase c;
    c.name = "softmax [N," + std::to_string(s.classes) + "] logits in +-" + std::to_string(int(s.range));
    c.inputs = {ParityInput::f32(Shape{kBatch, s.classes}, -s.range, s.range)};
    c.build = [](Graph& g, const std::vector<NodeId>& p) { return ops::softmax(g, p[0]); };
    c.grads = true;
    c.expect_ops = {"softmax", "softmax_backward"};
    cases.push_back(std::move(c));
  }
  expect_all(cases);
}

TEST_CASE("parity softmax_cross_entropy (+ backward) with i32 labels") {
  if (!backend_or_skip()) return;
  std::vector<ParityCase> cases;
  struct S {
    int64_t classes;
    double range;
  };
  for (const S s : {S{10, 3}, S{10, 40}, S{3, 1}, S{37, 5}}) {
    ParityCase c;
    c.name = "softmax_cross_entropy [N," + std::to_string(s.classes) + "] logits in +-" + std::to_string(int(s.range));
    c.inputs = {ParityInput::f32(Shape{kBatch, s.classes}, -s.range, s.range),
                ParityInput::i32(Shape{kBatch}, static_cast<int32_t>(s.classes))};
    c.build = [](Graph& g, const std::vector<NodeId>& p) { return ops::softmax_cross_entropy(g, p[0], p[1]); };
    c.grads = true;
    c.batches = {1, 5};
    c.expect_ops = {"softmax_cross_entropy", "softmax_cross_entropy_backward"};
    cases.push_back(std::move(c));
  }
  expect_all(cases);
}

TEST_CASE("parity accuracy: exact") {
  if (!backend_or_skip()) return;
  std::vector<ParityCase> cases;
  for (int64_t classes : {10, 3}) {
    ParityCase c;
    c.name = "accuracy [N," + std::to_string(classes) + "] (even rows right)";
    c.inputs = {accuracy_scores(classes), accuracy_labels(classes)};
    c.build = [](Graph& g, const std::vector<NodeId>& p) { return ops::accuracy(g, p[0], p[1]); };
    c.tol = kExact;
    c.batches = {1, 5, 2};
    cases.push_back(std::move(c));
  }
  {
    // Rows of equal scores: the CPU takes the first maximum, as std::max_element does.
    ParityCase c;
    c.name = "accuracy with tied scores (ties break to the first index)";
    c.inputs = {ParityInput::f32_const(Shape{kBatch, 4}, {1, 1, 1, 1, 0, 2, 2, 0, 0, 2, 2, 0, 5, 5, 5, 5, 3, 1, 3, 1}),
                ParityInput::i32_const(Shape{kBatch}, {0, 1, 2, 3, 2})};
    c.build = [](Graph& g, const std::vector<NodeId>& p) { return ops::accuracy(g, p[0], p[1]); };
    c.tol = kExact;
    c.batches = {1, 5};
    cases.push_back(std::move(c));
  }
  expect_all(cases);
}

TEST_CASE("parity a small MLP's loss and every gradient (many nodes, buffer reuse)") {
  if (!backend_or_skip()) return;
  ParityCase c;
  c.name = "dense 20->16 relu dropout 0.25 dense 16->10 softmax_cross_entropy";
  c.inputs = {ParityInput::f32(Shape{kBatch, 20}),       ParityInput::f32(Shape{20, 16}, -0.5, 0.5),
              ParityInput::f32(Shape{16}, -0.1, 0.1),     ParityInput::f32(Shape{16, 10}, -0.5, 0.5),
              ParityInput::f32(Shape{10}, -0.1, 0.1),     ParityInput::i32(Shape{kBatch}, 10),
              ParityInput::i32_const(Shape{1}, {2}),      ParityInput::i32_const(Shape{1}, {0})};
  c.build = [](Graph& g, const std::vector<NodeId>& p) {
    NodeId h = ops::relu(g, ops::dense(g, p[0], p[1], p[2]));
    h = ops::dropout(g, h, p[6], p[7], 0.25, 9);
    return ops::softmax_cross_entropy(g, ops::dense(g, h, p[3], p[4]), p[5]);
  };
  c.grads = true;
  c.batches = {1, 7, 4};
  expect_parity(c);
}

// Builds one optimizer's updates over params and grads (step: Adam's i32
// feed; lr_scale: kNoNode or the f32 [1] placeholder).
using UpdateBuilder = std::function<std::vector<NodeId>(Graph&, const std::vector<NodeId>& params,
                                                        const std::vector<NodeId>& grads, NodeId step, NodeId lr_scale)>;

// Three steps of the updates on both backends from the same initial values
// and feeds (step 0, 1, 2; with_scale: lr_scale 1, 0.5, 0.1), comparing every
// parameter and slot after each step, and each parameter's change from its
// initial value (see the tolerances above).
void expect_update_parity(const UpdateBuilder& build, bool uses_step, bool with_scale, uint64_t seed) {
  CAPTURE(with_scale);
  Graph g(3);
  const std::vector<Shape> shapes{Shape{5, 7}, Shape{33}, Shape{2, 3, 3, 3}};
  std::vector<NodeId> params, grads;
  for (size_t i = 0; i < shapes.size(); ++i) {
    params.push_back(g.parameter("p" + std::to_string(i), shapes[i], Init::uniform(-1, 1)));
    grads.push_back(g.placeholder("g" + std::to_string(i), shapes[i]));
  }
  const NodeId step = uses_step ? g.placeholder("step", Shape{1}, DType::i32) : kNoNode;
  const NodeId lr_scale = with_scale ? g.placeholder("lr_scale", Shape{1}) : kNoNode;
  const std::vector<NodeId> updates = build(g, params, grads, step, lr_scale);

  auto ref = make_backend(kReference, g, BackendOptions{2, {}});
  auto dut = make_backend(kBackend, g, BackendOptions{2, {}});
  auto ref_exe = ref->compile(updates, 1);
  auto dut_exe = dut->compile(updates, 1);

  std::vector<std::vector<float>> initial;
  for (NodeId p : params) {
    initial.push_back(test::read_variable(*ref, p));
    // Both start from the graph's initial values, bit for bit.
    const auto c = test::compare("initial " + g.describe(p), g.node(p).shape, test::read_variable(*dut, p), initial.back(), kExact);
    INFO(c.message());
    CHECK(c.ok);
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-1, 1);
  const float scales[3] = {1.0f, 0.5f, 0.1f};
  for (int32_t s = 0; s < 3; ++s) {
    CAPTURE(s);
    std::vector<std::vector<float>> gv;
    std::vector<Feed> feeds;
    for (size_t i = 0; i < params.size(); ++i) {
      gv.emplace_back(static_cast<size_t>(shapes[i].numel()));
      for (float& x : gv.back()) x = uni(rng) * (i == 1 ? 1e-3f : 1.0f);  // one with small gradients
      feeds.push_back({grads[i], shapes[i], DType::f32, gv.back().data()});
    }
    if (uses_step) feeds.push_back({step, Shape{1}, DType::i32, &s});
    if (with_scale) feeds.push_back({lr_scale, Shape{1}, DType::f32, &scales[s]});
    ref_exe->run(feeds);
    dut_exe->run(feeds);
    dut->synchronize();
    for (const NodeId v : g.variables()) {
      const auto c = test::compare(g.describe(v) + " after step " + std::to_string(s), g.node(v).shape,
                                   test::read_variable(*dut, v), test::read_variable(*ref, v), kDefault);
      INFO(c.message());
      CHECK(c.ok);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      std::vector<float> da = test::read_variable(*dut, params[i]), db = test::read_variable(*ref, params[i]);
      for (size_t k = 0; k < da.size(); ++k) da[k] -= initial[i][k], db[k] -= initial[i][k];
      const auto c = test::compare("change of " + g.describe(params[i]) + " after step " + std::to_string(s),
                                   g.node(params[i]).shape, da, db, Tolerance{1e-5, 1e-2});
      INFO(c.message());
      CHECK(c.ok);
    }
  }
}

TEST_CASE("parity adam_update: 3 steps, parameters and both slots; AdamW with a fed lr_scale") {
  if (!backend_or_skip()) return;
  expect_update_parity(
      [](Graph& g, const auto& params, const auto& grads, NodeId step, NodeId scale) {
        return ops::adam(g, params, grads, step, ops::AdamConfig{0.01, 0.9, 0.999, 1e-7}, scale);
      },
      true, false, 17);
  expect_update_parity(
      [](Graph& g, const auto& params, const auto& grads, NodeId step, NodeId scale) {
        return ops::adamw(g, params, grads, step, {.lr = 0.01, .weight_decay = 0.05}, scale);
      },
      true, true, 18);
}

TEST_CASE("parity sgd_update: plain, momentum and nesterov, weight decay, lr_scale, 3 steps") {
  if (!backend_or_skip()) return;
  for (const ops::SgdConfig cfg : {ops::SgdConfig{0.1, 0.0, false}, ops::SgdConfig{0.05, 0.9, false},
                                   ops::SgdConfig{0.05, 0.9, true}, ops::SgdConfig{0.05, 0.9, true, 0.1}}) {
    CAPTURE(cfg.momentum);
    CAPTURE(cfg.nesterov);
    CAPTURE(cfg.weight_decay);
    for (const bool with_scale : {false, true})
      expect_update_parity(
          [cfg](Graph& g, const auto& params, const auto& grads, NodeId, NodeId scale) {
            return ops::sgd(g, params, grads, cfg, scale);
          },
          false, with_scale, 23);
  }
}

TEST_CASE("parity rmsprop_update: plain, momentum, centered, weight decay, lr_scale, 3 steps") {
  if (!backend_or_skip()) return;
  for (const ops::RmspropConfig cfg :
       {ops::RmspropConfig{}, ops::RmspropConfig{.lr = 0.01, .momentum = 0.9},
        ops::RmspropConfig{.lr = 0.01, .centered = true},
        ops::RmspropConfig{.lr = 0.01, .rho = 0.8, .momentum = 0.5, .centered = true, .weight_decay = 0.1}}) {
    CAPTURE(cfg.momentum);
    CAPTURE(cfg.centered);
    CAPTURE(cfg.weight_decay);
    for (const bool with_scale : {false, true})
      expect_update_parity(
          [cfg](Graph& g, const auto& params, const auto& grads, NodeId, NodeId scale) {
            return ops::rmsprop(g, params, grads, cfg, scale);
          },
          false, with_scale, 29);
  }
}

TEST_CASE("parity a bad label is a BackendError on both backends") {
  if (!backend_or_skip()) return;
  Graph g;
  const NodeId logits = g.placeholder("logits", Shape{kBatch, 4});
  const NodeId labels = g.placeholder("labels", Shape{kBatch}, DType::i32);
  const NodeId loss = ops::softmax_cross_entropy(g, logits, labels);
  const float lv[8] = {0.1f, 0.2f, 0.3f, 0.4f, 1, 2, 3, 4};
  const int32_t bad[2] = {1, 4};  // 4 is outside [0, 4)
  for (const std::string& name : {kReference, kBackend}) {
    CAPTURE(name);
    auto b = make_backend(name, g, BackendOptions{2, {}});
    auto exe = b->compile({loss}, 2);
    const Feed feeds[] = {{logits, Shape{2, 4}, DType::f32, lv}, {labels, Shape{2}, DType::i32, bad}};
    CHECK_THROWS_AS(
        [&] {
          exe->run(feeds);
          b->synchronize();
          float out = 0;
          exe->fetch(loss, std::span<float>(&out, 1));
        }(),
        BackendError);
  }
}

TEST_CASE("parity vulkan device selection: a device that does not exist is a BackendError naming it") {
  if (!backend_or_skip()) return;
  std::string why;
  const std::vector<std::string> devices = list_devices(kBackend, &why);
  REQUIRE_MESSAGE(!devices.empty(), "list_devices(\"" << kBackend << "\") is empty although make_backend works: " << why);
  Graph g;
  g.placeholder("x", Shape{1});
  CHECK(make_backend(kBackend, g, BackendOptions{.threads = 2, .device = ""})->name() == kBackend);
  CHECK_NOTHROW(make_backend(kBackend, g, BackendOptions{.threads = 2, .device = "0"}));
  // A word of the first device's name ("0: llvmpipe (...)" -> "llvmpipe") selects it too.
  const std::string& first = devices.front();
  if (const size_t b = first.find(": "); b != std::string::npos) {
    const std::string word = first.substr(b + 2, first.find_first_of(" (", b + 2) - (b + 2));
    CAPTURE(word);
    if (!word.empty()) CHECK_NOTHROW(make_backend(kBackend, g, BackendOptions{.threads = 2, .device = word}));
  }
  const std::string past_last = std::to_string(devices.size());  // one past the last index
  for (const std::string& dev : {std::string("no-such-gpu"), std::string("99"), past_last}) {
    CAPTURE(dev);
    std::string msg;
    try {
      auto b = make_backend(kBackend, g, BackendOptions{.threads = 2, .device = dev});
      FAIL_CHECK("make_backend(\"" << kBackend << "\", device \"" << dev << "\") did not throw");
      continue;
    } catch (const BackendError& e) {
      msg = e.what();
    }
    INFO("message: " << msg);
    CHECK(msg.find(dev) != std::string::npos);  // names the device asked for
    for (const std::string& d : devices) {      // and lists the ones there are
      CAPTURE(d);
      CHECK(msg.find(d) != std::string::npos);
    }
  }
}

TEST_CASE("parity a whole training step: the MNIST CNN, 3 Adam steps of 32 on both backends") {
  if (!backend_or_skip()) return;
  constexpr int64_t kImages = 96, kBatchSize = 32;
  Dataset train;
  const std::filesystem::path dir = GG_MNIST_DIR;
  if (!dir.empty() && std::filesystem::exists(dir)) {
    train = to_dataset(data::load_mnist(dir, "train", kImages));
  } else {
    MESSAGE("no MNIST folder at " << dir.string() << ": synthetic images");
    train.item_shape = Shape{1, 28, 28};
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<float> uni(0, 1);
    for (int64_t i = 0; i < kImages * 28 * 28; ++i) train.x.push_back(uni(rng) < 0.8f ? 0.0f : uni(rng));
    for (int64_t i = 0; i < kImages; ++i) train.y.push_back(static_cast<int32_t>((i * 7) % 10));
  }
  REQUIRE(train.size() == kImages);

  auto ref = make_mnist_cnn(0);
  auto dut = make_mnist_cnn(0);
  ref->compile({.loss = "categorical_crossentropy", .optimizer = Adam{}, .backend = kReference, .backend_options = {2, {}}});
  dut->compile({.loss = "categorical_crossentropy", .optimizer = Adam{}, .backend = kBackend, .backend_options = {2, {}}});
  const Graph& g = ref->graph();
  REQUIRE(g.size() == dut->graph().size());

  std::vector<std::vector<float>> initial;
  for (NodeId p : g.parameters()) {
    initial.push_back(test::read_variable(ref->backend(), p));
    const auto c = test::compare("initial " + g.describe(p), g.node(p).shape, test::read_variable(dut->backend(), p),
                                 initial.back(), kExact);
    INFO(c.message());
    CHECK(c.ok);
  }

  const FitOptions fit{.batch_size = static_cast<int>(kBatchSize), .epochs = 1, .shuffle = false, .verbose = 0};
  const auto href = ref->fit(train, fit);
  const auto hdut = dut->fit(train, fit);
  REQUIRE(href.size() == 1);
  REQUIRE(hdut.size() == 1);
  CHECK(ref->step() == kImages / kBatchSize);
  CHECK(dut->step() == kImages / kBatchSize);
  MESSAGE("epoch loss: " << kBackend << " " << hdut[0].loss << ", " << kReference << " " << href[0].loss
                         << "; accuracy " << hdut[0].accuracy << " vs " << href[0].accuracy);
  CHECK(std::isfinite(hdut[0].loss));
  CHECK(std::abs(hdut[0].loss - href[0].loss) <= 1e-4 * std::abs(href[0].loss));
  CHECK(std::abs(hdut[0].accuracy - href[0].accuracy) <= 2.0 / double(kImages) + 1e-12);

  const double lr = Adam{}.lr;
  const Tolerance param_tol{1e-5, 2 * lr * 3};  // max-abs scaled by max(1, |p|): |p| < 1 here
  size_t pi = 0;
  for (NodeId p : g.parameters()) {
    std::vector<float> a = test::read_variable(dut->backend(), p), b = test::read_variable(ref->backend(), p);
    const auto c = test::compare(g.describe(p), g.node(p).shape, a, b, param_tol);
    if (verbose()) MESSAGE(c.message());
    INFO(c.message());
    CHECK(c.ok);
    for (size_t k = 0; k < a.size(); ++k) a[k] -= initial[pi][k], b[k] -= initial[pi][k];
    const auto d = test::compare("change of " + g.describe(p), g.node(p).shape, a, b, Tolerance{1e-4, 2 * lr * 3});
    if (verbose()) MESSAGE(d.message());
    INFO(d.message());
    CHECK(d.ok);
    ++pi;
  }
  const std::vector<NodeId> params = g.parameters();
  for (NodeId v : g.variables()) {
    if (std::find(params.begin(), params.end(), v) != params.end()) continue;
    const auto c = test::compare(g.describe(v), g.node(v).shape, test::read_variable(dut->backend(), v),
                                 test::read_variable(ref->backend(), v), Tolerance{1e-5, 1e-3});
    if (verbose()) MESSAGE(c.message());
    INFO(c.message());
    CHECK(c.ok);
  }
}

}  // TEST_SUITE
