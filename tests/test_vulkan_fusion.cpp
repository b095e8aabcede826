// The Vulkan backend's fusions (backends/fusion.h, the rule the CPU backend
// applies too), checked on every path a conv or a dense can take, against the
// CPU and against the same backend unfused, and through the dispatch counter
// (backends/vulkan/counters.h), so that a fusion that silently stopped
// happening fails here even where its values would still be right:
//   - conv2d -> relu, the relu the conv's only reader: the conv (direct shader,
//     or im2col + gemm) applies the relu, and the relu step records nothing;
//     not fused where the conv's value is read elsewhere or is a target;
//   - the conv's bias in the same pass (direct shader, gemm epilogue): no
//     bias_add dispatch;
//   - dense's bias in the gemm's epilogue (gemm, gemm_v4, gemm_tiled): one
//     dispatch, bit for bit matmul then add.
// Paths: GRAPHGRAD_VULKAN_GEMM=blocked (lavapipe's own choice: direct convs),
// =tiled (the GPUs' im2col + gemm_tiled), and blocked with
// GRAPHGRAD_VULKAN_MAX_GROUPS=4 (too few groups for the direct conv's channel
// blocks: im2col + gemm.comp / gemm_v4.comp). Each case sets the variables itself.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/frontends/mnist_model.h>
#include <graphgrad/frontends/sequential.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/ops.h>

#include "parity.h"
#include "vulkan/counters.h"

using namespace gg;

namespace {



std::vector<float> uniform(size_t n, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// One executable's first run: every target's values, and the dispatches its
// recording took (the first run at a batch records the step).
struct Run {
  std::vector<std::vector<float>> values;  // per target
  uint64_t dispatches = 0;
};

Run run(Backend& be, const std::vector<NodeId>& targets, const std::vector<Feed>& feeds, int64_t batch) {
  const uint64_t before = vk::counters().dispatches;
  auto exe = be.compile(targets, batch);
  std::vector<Feed> mine;
  for (const Feed& f : feeds)
    if (std::find(exe->inputs().begin(), exe->inputs().end(), f.node) != exe->inputs().end()) mine.push_back(f);
  exe->run(mine);
  Run r;
  r.dispatches = vk::counters().dispatches - before;
  for (NodeId t : targets) {
    r.values.emplace_back(static_cast<size_t>(be.graph().node(t).shape.numel(batch)));
    exe->fetch(t, r.values.back());
  }
  return r;
}

void check_close(const std::string& what, const Shape& shape, const std::vector<float>& got, const std::vector<float>& want) {
  const test::Comparison c = test::compare(what, shape, got, want, test::Tolerance{});
  INFO(c.message());
  CHECK(c.ok);
}

// Element i of got == f(i), bit for bit (+0 == -0); reports the first mismatch.
template <class F>
void check_exact(const std::string& what, const std::vector<float>& got, F want) {
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want(i)) {
      FAIL_CHECK(what << ": element " << i << " is " << got[i] << ", want " << want(i));
      return;
    }
}

struct Path {
  const char* name;
  const char* gemm;        // GRAPHGRAD_VULKAN_GEMM
  const char* max_groups;  // GRAPHGRAD_VULKAN_MAX_GROUPS (nullptr: the device's)
  bool direct;             // the direct conv shader runs (else im2col + gemm)
};
const Path kPaths[] = {{"direct conv (blocked gemm)", "blocked", nullptr, true},
                       {"im2col + gemm_tiled", "tiled", nullptr, false},
                       {"im2col + blocked gemm (4 groups per axis)", "blocked", "4", false}};

float relu(float v) { return v < 0.0f ? 0.0f : v; }

}  // namespace

TEST_SUITE("backend_parity") {

TEST_CASE("vulkan fusion: conv2d + bias + relu in one pass where the relu alone reads the conv, on every conv path") {
  if (!test::vulkan_or_skip()) return;
  for (const Path& path : kPaths)
    for (const int k : {3, 1}) {  // 1x1: the im2col paths skip im2col (the gemm alone)
      CAPTURE(std::string(path.name));
      CAPTURE(k);
      test::ScopedEnv gemm("GRAPHGRAD_VULKAN_GEMM", path.gemm);
      test::ScopedEnv groups("GRAPHGRAD_VULKAN_MAX_GROUPS", path.max_groups);
      // 33 channels: 5 blocks of 8, too many for 4 groups; small images, so that the
      // element-wise kernels fit 4 x 4 groups of 256
      const int64_t n = 2, c = 3, oc = 33, h = 6, w = 5;
      Graph g;
      const NodeId x = g.placeholder("x", Shape{kBatch, c, h, w});
      const NodeId z = g.placeholder("z", Shape{kBatch, oc, h, w});
      const NodeId wt = g.constant("w", Shape{oc, c, k, k}, uniform(static_cast<size_t>(oc * c * k * k), 5));
      const NodeId b = g.constant("b", Shape{oc}, uniform(static_cast<size_t>(oc), 6));
      auto conv = [&] { return ops::conv2d(g, x, wt, b, 1, ops::Padding::same); };
      const NodeId plain = conv();
      // relu alone reads the conv, and is read by an add (+ zeros): fused, the relu records nothing
      const NodeId fused = ops::add(g, ops::relu(g, conv()), z);
      // the relu itself a target: fused (on the CPU the relu then runs as a copy into its own buffer)
      const NodeId relu_target = ops::relu(g, conv());
      // the conv's value also read by the add: not fused (the add must see the conv's negatives)
      const NodeId shared_conv = conv();
      const NodeId both = ops::add(g, ops::relu(g, shared_conv), shared_conv);
      // the conv a target too: not fused
      const NodeId conv_target = conv();
      const NodeId relu_of_target = ops::relu(g, conv_target);
      // the bias as a separate add: the fused bias must give the same bits
      const NodeId unbiased = ops::add(g, ops::conv2d(g, x, wt, kNoNode, 1, ops::Padding::same), ops::reshape(g, b, Shape{oc, 1, 1}));

      const auto xv = uniform(static_cast<size_t>(n * c * h * w), 7);
      const std::vector<float> zeros(static_cast<size_t>(n * oc * h * w), 0.0f);
      const std::vector<Feed> feeds{{x, Shape{n, c, h, w}, DType::f32, xv.data()},
                                    {z, Shape{n, oc, h, w}, DType::f32, zeros.data()}};
      auto vulkan = make_backend("vulkan", g);
      auto cpu = make_backend("cpu", g, BackendOptions{2, {}});
      const Shape shape{n, oc, h, w};

      const Run ref = run(*vulkan, {plain}, feeds, n);
      const std::vector<float>& y = ref.values[0];
      check_close("conv2d vs cpu", shape, y, run(*cpu, {plain}, feeds, n).values[0]);
      CHECK(std::count_if(y.begin(), y.end(), [](float v) { return v < 0; }) > 0);  // the relu has work to do
      // The conv with its bias: direct, conv_weights_t + conv_forward; im2col + gemm (1x1: the gemm alone). No bias_add.
      CHECK(ref.dispatches == (path.direct || k == 3 ? 2u : 1u));

      const Run u = run(*vulkan, {unbiased}, feeds, n);
      check_exact("conv2d's bias vs conv2d then add", u.values[0], [&](size_t i) { return y[i]; });

      struct Case {
        const char* name;
        std::vector<NodeId> targets;
        uint64_t extra_dispatches;  // beyond the conv's own
      };
      const Case cases[] = {{"relu read by an add", {fused}, 1},  // the add
                            {"relu a target", {relu_target}, 0},
                            {"conv read by relu and add", {both}, 2},  // relu, add
                            {"conv a target", {conv_target, relu_of_target}, 1}};  // relu
      for (const Case& cs : cases) {
        CAPTURE(std::string(cs.name));
        const Run v = run(*vulkan, cs.targets, feeds, n), r = run(*cpu, cs.targets, feeds, n);
        CHECK(v.dispatches == ref.dispatches + cs.extra_dispatches);
        for (size_t t = 0; t < cs.targets.size(); ++t) {
          check_close(g.describe(cs.targets[t]) + " vs cpu", shape, v.values[t], r.values[t]);
          const NodeId id = cs.targets[t];
          if (id == both)
            check_exact("relu(conv) + conv", v.values[t], [&](size_t i) { return relu(y[i]) + y[i]; });
          else if (id == conv_target)
            check_exact("the conv target", v.values[t], [&](size_t i) { return y[i]; });
          else
            check_exact("relu(conv)", v.values[t], [&](size_t i) { return relu(y[i]); });
        }
      }
    }
}

TEST_CASE("vulkan fusion: dense's bias in the gemm's epilogue on gemm, gemm_v4 and gemm_tiled, bit for bit matmul + add") {
  if (!test::vulkan_or_skip()) return;
  // 10 units: gemm.comp (rows not whole vec4s); 12: gemm_v4.comp; each also tiled.
  for (const char* gemm_kind : {"blocked", "tiled"})
    for (const int64_t units : {10, 12}) {
      CAPTURE(std::string(gemm_kind));
      CAPTURE(units);
      test::ScopedEnv gemm("GRAPHGRAD_VULKAN_GEMM", gemm_kind);
      const int64_t n = 5, in = 37;
      Graph g;
      const NodeId x = g.placeholder("x", Shape{kBatch, in});
      const NodeId w = g.constant("w", Shape{in, units}, uniform(static_cast<size_t>(in * units), 8));
      const NodeId b = g.constant("b", Shape{units}, uniform(static_cast<size_t>(units), 9));
      const NodeId with_bias = ops::dense(g, x, w, b);
      const NodeId without = ops::dense(g, x, w, kNoNode);
      const NodeId unfused = ops::add(g, ops::matmul(g, x, w), b);
      const auto xv = uniform(static_cast<size_t>(n * in), 10);
      const std::vector<Feed> feeds{{x, Shape{n, in}, DType::f32, xv.data()}};
      auto vulkan = make_backend("vulkan", g);
      auto cpu = make_backend("cpu", g, BackendOptions{2, {}});
      const Shape shape{n, units};
      for (NodeId t : {with_bias, without}) {
        CAPTURE(g.describe(t));
        const Run v = run(*vulkan, {t}, feeds, n);
        CHECK(v.dispatches == 1);  // the gemm alone, bias or not
        check_close("dense vs cpu", shape, v.values[0], run(*cpu, {t}, feeds, n).values[0]);
      }
      const Run fused = run(*vulkan, {with_bias}, feeds, n), ref = run(*vulkan, {unfused}, feeds, n);
      CHECK(ref.dispatches == 2);  // matmul, add
      check_exact("dense with bias vs matmul + add", fused.values[0], [&](size_t i) { return ref.values[0][i]; });
    }
}

// The MNIST CNN's training step (the targets bench_train times): its dispatch
// count, printed for the record (the report of issue #17 compares it with the
// unfused count).
TEST_CASE("vulkan fusion: the MNIST CNN's training step") {
  if (!test::vulkan_or_skip()) return;
  test::ScopedEnv groups("GRAPHGRAD_VULKAN_MAX_GROUPS", nullptr);
  for (const char* gemm_kind : {"blocked", "tiled"}) {
    test::ScopedEnv gemm("GRAPHGRAD_VULKAN_GEMM", gemm_kind);
    std::shared_ptr<Sequential> model = make_mnist_cnn(0, Shape{1, 28, 28});
    CompileOptions co;
    co.backend = "vulkan";
    model->compile(co);
    const Graph& g = model->graph();
    const NodeId loss = g.at("loss");
    std::vector<NodeId> targets{loss, g.node(loss).inputs[0]};
    for (const Node& n : g.nodes())
      if (!n.op->mutated_inputs().empty()) targets.push_back(n.id);
    const int64_t batch = 8;
    std::vector<std::vector<char>> data;
    std::vector<Feed> feeds;
    auto exe = model->backend().compile(targets, batch);
    for (NodeId in : exe->inputs()) {
      const Node& n = g.node(in);
      data.emplace_back(static_cast<size_t>(n.shape.numel(batch)) * 4, 0);
      if (n.dtype == DType::f32) {
        const auto v = uniform(static_cast<size_t>(n.shape.numel(batch)), 11, 0, 1);
        std::copy_n(reinterpret_cast<const char*>(v.data()), data.back().size(), data.back().data());
      }
      feeds.push_back({in, n.shape.resolved(batch), n.dtype, data.back().data()});
    }
    const uint64_t before = vk::counters().dispatches;
    exe->run(feeds);
    MESSAGE("GRAPHGRAD_VULKAN_GEMM=" << std::string(gemm_kind) << ": the MNIST CNN's training step records "
                                     << vk::counters().dispatches - before << " dispatches");
  }
}

}  // TEST_SUITE
