// The op test table's cases for softmax and log_softmax over any axis, the
// losses (see op_cases.h), and the bad-label test of nll_loss on both backends.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/ops.h>

#include "op_cases.h"

namespace gg::test {
namespace {

// Rows of `classes` probabilities (each row sums to 1, every entry > 0).
ParityInput soft_targets(int64_t classes, uint64_t seed) {
  ParityInput p = ParityInput::f32(Shape{kBatch, classes}, 0, 1);
  p.gen = [=](int64_t n) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(0.05f, 1.0f);
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t r = 0; r * classes < n; ++r) {
      float sum = 0;
      const int64_t end = std::min(n, (r + 1) * classes);
      for (int64_t i = r * classes; i < end; ++i) sum += (v[size_t(i)] = u(rng));
      for (int64_t i = r * classes; i < end; ++i) v[size_t(i)] /= sum;
    }
    return v;
  };
  return p;
}

}  // namespace

void loss_cases(std::vector<OpCase>& out) {
  // softmax / log_softmax over the last, a middle and an inner axis (the
  // strided kernels), negative and positive axis numbers.
  struct AxisCase {
    Shape shape;
    int axis;
  };
  const AxisCase axes[] = {{Shape{kBatch, 7}, -1}, {Shape{kBatch, 3, 5}, 1}, {Shape{kBatch, 4, 3, 2}, 2},
                           {Shape{kBatch, 4, 3, 2}, -4}};
  for (const AxisCase& ac : axes)
    for (const bool log : {false, true}) {
      const int axis = ac.axis;
      out.push_back({make_case(std::string(log ? "log_softmax" : "softmax") + " x" + ac.shape.str() + " axis " +
                                   std::to_string(axis),
                               {ranged(ac.shape, -3, 3, 11)},
                               [=](Graph& g, const std::vector<NodeId>& p) {
                                 return log ? ops::log_softmax(g, p[0], axis) : ops::softmax(g, p[0], axis);
                               })});
    }
  // Wider: rows longer than a workgroup (the row shaders' 64 lanes), more
  // columns than one 256-wide group (the strided shader).
  out.push_back({make_case("log_softmax x[N,130] axis 1", {ranged(Shape{kBatch, 130}, -3, 3, 12)},
                           [](Graph& g, const std::vector<NodeId>& p) { return ops::log_softmax(g, p[0], 1); })});
  out.push_back({make_case("softmax x[N,3,300] axis 1", {ranged(Shape{kBatch, 3, 300}, -3, 3, 13)},
                           [](Graph& g, const std::vector<NodeId>& p) { return ops::softmax(g, p[0], 1); })});
  // Large logits: stable (the maximum is subtracted), no overflow to inf.
  out.push_back({make_case("log_softmax x[N,5] logits in [80,120)", {ranged(Shape{kBatch, 5}, 80, 120, 3)},
                           [](Graph& g, const std::vector<NodeId>& p) { return ops::log_softmax(g, p[0]); }),
                 /*gradcheck=*/false});

  out.push_back({make_case("softmax_cross_entropy_soft logits[N,6] targets[N,6]",
                           {ranged(Shape{kBatch, 6}, -3, 3, 5), soft_targets(6, 9)},
                           [](Graph& g, const std::vector<NodeId>& p) {
                             return ops::softmax_cross_entropy_soft(g, p[0], p[1]);
                           })});
  out.push_back({make_case("bce_with_logits x[N,3,5] t[N,3,5]",
                           {ranged(Shape{kBatch, 3, 5}, -4, 4, 6), ranged(Shape{kBatch, 3, 5}, 0, 1, 7)},
                           [](Graph& g, const std::vector<NodeId>& p) { return ops::bce_with_logits(g, p[0], p[1]); })});
  out.push_back({make_case("bce_with_logits x[7] t[7] (no batch)", {ranged(Shape{7}, -4, 4, 8), ranged(Shape{7}, 0, 1, 9)},
                           [](Graph& g, const std::vector<NodeId>& p) { return ops::bce_with_logits(g, p[0], p[1]); })});
  out.push_back({make_case("nll_loss log_probs[N,5] labels", {ranged(Shape{kBatch, 5}, -4, 0, 4), ParityInput::i32(Shape{kBatch}, 5)},
                           [](Graph& g, const std::vector<NodeId>& p) { return ops::nll_loss(g, p[0], p[1]); })});
  // nll_loss(log_softmax(x)) is softmax_cross_entropy.
  out.push_back({make_case("nll_loss(log_softmax(x[N,7])) labels", {ranged(Shape{kBatch, 7}, -3, 3, 4), ParityInput::i32(Shape{kBatch}, 7)},
                           [](Graph& g, const std::vector<NodeId>& p) {
                             return ops::nll_loss(g, ops::log_softmax(g, p[0], 1), p[1]);
                           })});
  out.push_back({make_case("mse a[N,3,4] b[N,3,4]", {ranged(Shape{kBatch, 3, 4}, -2, 2, 2), ranged(Shape{kBatch, 3, 4}, -2, 2, 3)},
                           [](Graph& g, const std::vector<NodeId>& p) { return ops::mse(g, p[0], p[1]); })});
}

namespace {
// y = f(x...) on the CPU backend at batch 2: the fetched values.
std::vector<float> run_cpu(const Graph& g, NodeId y, const std::vector<Feed>& feeds) {
  auto b = make_backend("cpu", g, BackendOptions{2, {}});
  auto exe = b->compile({y}, 2);
  exe->run(feeds);
  std::vector<float> out(static_cast<size_t>(g.node(y).shape.numel(2)));
  exe->fetch(y, out);
  return out;
}
}  // namespace

TEST_SUITE("op_table") {

// The values against PyTorch's definitions, written out naively in double
// (the gradient checks and the parity tests only compare the ops with
// themselves and between backends).
TEST_CASE("softmax over axis 1 and the losses: values by their definitions") {
  const std::vector<float> xv = {0.3f, -1.2f, 2.0f, 0.7f, -0.4f, 1.1f, 5.0f, -3.0f, 0.0f, 0.25f, 1.5f, -0.6f};
  {  // x [2,3,2], softmax and log_softmax along axis 1 (the 3)
    Graph g;
    const NodeId x = g.placeholder("x", Shape{kBatch, 3, 2});
    const NodeId sm = ops::softmax(g, x, 1), lsm = ops::log_softmax(g, x, -2);
    const std::vector<float> got = run_cpu(g, sm, {{x, Shape{2, 3, 2}, DType::f32, xv.data()}});
    const std::vector<float> lgot = run_cpu(g, lsm, {{x, Shape{2, 3, 2}, DType::f32, xv.data()}});
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 2; ++i) {
        double sum = 0;
        for (int c = 0; c < 3; ++c) sum += std::exp(double(xv[size_t(n * 6 + c * 2 + i)]));
        for (int c = 0; c < 3; ++c) {
          const size_t k = size_t(n * 6 + c * 2 + i);
          CHECK(got[k] == doctest::Approx(std::exp(double(xv[k])) / sum).epsilon(1e-6));
          CHECK(lgot[k] == doctest::Approx(std::log(std::exp(double(xv[k])) / sum)).epsilon(1e-6));
        }
      }
  }
  {  // logits, targets [2,6]: soft cross-entropy, bce, mse; nll with labels {4, 0}
    Graph g;
    const NodeId x = g.placeholder("x", Shape{kBatch, 6});
    const NodeId t = g.placeholder("t", Shape{kBatch, 6});
    const NodeId l = g.placeholder("l", Shape{kBatch}, DType::i32);
    const std::vector<float> tv = {0.1f, 0.2f, 0.3f, 0.4f, 0.0f, 0.0f, 0.5f, 0.0f, 0.25f, 0.25f, 0.0f, 0.0f};
    const int32_t lv[2] = {4, 0};
    const std::vector<Feed> xt{{x, Shape{2, 6}, DType::f32, xv.data()}, {t, Shape{2, 6}, DType::f32, tv.data()}};
    double xent = 0, bce = 0, mse = 0, nll = 0;
    for (int n = 0; n < 2; ++n) {
      double sum = 0;
      for (int c = 0; c < 6; ++c) sum += std::exp(double(xv[size_t(n * 6 + c)]));
      for (int c = 0; c < 6; ++c) xent -= tv[size_t(n * 6 + c)] * std::log(std::exp(double(xv[size_t(n * 6 + c)])) / sum);
      nll -= xv[size_t(n * 6 + lv[n])];
    }
    for (size_t k = 0; k < 12; ++k) {
      const double s = 1 / (1 + std::exp(-double(xv[k])));
      bce -= tv[k] * std::log(s) + (1 - tv[k]) * std::log(1 - s);
      mse += (double(xv[k]) - tv[k]) * (double(xv[k]) - tv[k]);
    }
    CHECK(run_cpu(g, ops::softmax_cross_entropy_soft(g, x, t), xt)[0] == doctest::Approx(xent / 2).epsilon(1e-6));
    CHECK(run_cpu(g, ops::bce_with_logits(g, x, t), xt)[0] == doctest::Approx(bce / 12).epsilon(1e-6));
    CHECK(run_cpu(g, ops::mse(g, x, t), xt)[0] == doctest::Approx(mse / 12).epsilon(1e-6));
    CHECK(run_cpu(g, ops::nll_loss(g, x, l), {{x, Shape{2, 6}, DType::f32, xv.data()}, {l, Shape{2}, DType::i32, lv}})[0] ==
          doctest::Approx(nll / 2).epsilon(1e-6));
  }
}

TEST_CASE("softmax and the losses: bad axes and shapes are GraphErrors naming the node") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 3, 5});
  const NodeId t = g.placeholder("t", Shape{kBatch, 5});
  const NodeId l = g.placeholder("l", Shape{kBatch}, DType::i32);
  CHECK_THROWS_WITH_AS(ops::softmax(g, x, 3, "sm"), doctest::Contains("softmax \"sm\": axis 3"), GraphError);
  CHECK_THROWS_WITH_AS(ops::log_softmax(g, x, -4, "lsm"), doctest::Contains("\"lsm\""), GraphError);
  CHECK_THROWS_WITH_AS(ops::bce_with_logits(g, x, t, "b"), doctest::Contains("bce_with_logits \"b\""), GraphError);
  CHECK_THROWS_WITH_AS(ops::softmax_cross_entropy_soft(g, x, x, "s"), doctest::Contains("\"s\""), GraphError);
  CHECK_THROWS_WITH_AS(ops::nll_loss(g, t, t, "n"), doctest::Contains("nll_loss \"n\""), GraphError);
  CHECK_THROWS_WITH_AS(ops::nll_loss(g, x, l, "n3"), doctest::Contains("\"n3\""), GraphError);
}

}  // TEST_SUITE

TEST_SUITE("backend_parity") {

TEST_CASE("parity nll_loss: a bad label is a BackendError naming the node, forward and gradient, on both backends") {
  Graph g;
  const NodeId lp = g.placeholder("log_probs", Shape{kBatch, 4});
  const NodeId labels = g.placeholder("labels", Shape{kBatch}, DType::i32);
  const NodeId loss = ops::nll_loss(g, lp, labels, "the_nll");
  const NodeId dlp = vjp(g, loss, g.placeholder("dloss", Shape{}), {lp})[0];
  const std::string grad_name = g.node(dlp).name;
  const float lv[8] = {-1, -2, -3, -0.5f, -1, -1, -2, -3};
  const float one = 1;
  std::vector<std::string> backends{"cpu"};
  if (const auto why = backend_unavailable("vulkan")) {
    if (vulkan_required()) FAIL(kRequireVulkanEnv << " is set, but the vulkan backend fails: " << *why);
    MESSAGE(kParitySkipMarker << ": no vulkan backend here (" << *why << "); the CPU part ran");
  } else {
    backends.push_back("vulkan");
  }
  for (const int32_t bad : {4, -1}) {
    const int32_t lab[2] = {1, bad};  // outside [0, 4)
    for (const std::string& name : backends)
      for (const auto& case_ : {std::pair{loss, std::string("the_nll")}, std::pair{dlp, grad_name}}) {
        // Not a structured binding: doctest's CAPTURE is a lambda, and clang 14 cannot capture one.
        const NodeId target = case_.first;
        const std::string& node_name = case_.second;
        CAPTURE(name);
        CAPTURE(bad);
        CAPTURE(node_name);
        auto b = make_backend(name, g, BackendOptions{2, {}});
        auto exe = b->compile({target}, 2);
        std::vector<Feed> feeds{{lp, Shape{2, 4}, DType::f32, lv}, {labels, Shape{2}, DType::i32, lab}};
        if (target == dlp) feeds.push_back({g.find("dloss"), Shape{}, DType::f32, &one});
        std::string msg;
        try {
          exe->run(feeds);
          b->synchronize();
          std::vector<float> v(8);
          exe->fetch(target, std::span<float>(v.data(), static_cast<size_t>(g.node(target).shape.numel(2))));
        } catch (const BackendError& e) {
          msg = e.what();
        }
        INFO("message: " << msg);
        CHECK(msg.find(g.node(target).op->name() + std::string(" \"") + node_name + "\"") != std::string::npos);
        CHECK(msg.find("label") != std::string::npos);
      }
  }
}

}  // TEST_SUITE

}  // namespace gg::test
