// The Vulkan backend's paths that lavapipe would not take on its own, seen
// through the backend's counters (backends/vulkan/counters.h):
//   - GRAPHGRAD_VULKAN_MEMORY=discrete: no device-local buffer is mapped,
//     every transfer (the batch, the targets, read/write_variable, the
//     all-reduce host steps' gathers and results) goes through staging copies,
//     with flushes and invalidates (emulated non-coherent memory, so a missing
//     one gives wrong values), and training still matches the CPU;
//   - GRAPHGRAD_VULKAN_MAX_GROUPS=<n>: the element-wise kernels spill into 2-D
//     grids (shaders/eltwise_prelude.glsl's flat_index) and still match, and a
//     dispatch over the limit is a BackendError.
// Each case sets the variables itself (and restores them), so it means the
// same under every ctest entry that runs the backend_parity suite.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/ops/data_parallel.h>
#include <graphgrad/ops/ops.h>
#include <graphgrad/ops/optimizers.h>

#include "mirrored_pair.h"
#include "parity.h"
#include "vulkan/counters.h"

using namespace gg;

namespace {


struct Counts {
  uint64_t mapped, staging, direct, flushes, invalidates, spilled, texel, fallbacks;
  static Counts now() {
    const vk::Counters& c = vk::counters();
    return {c.device_local_mapped, c.staging_copies, c.direct_transfers, c.flushes, c.invalidates, c.spilled_grids,
            c.texel_dispatches, c.texel_fallbacks};
  }
  Counts operator-(const Counts& o) const {
    return {mapped - o.mapped, staging - o.staging, direct - o.direct, flushes - o.flushes, invalidates - o.invalidates,
            spilled - o.spilled, texel - o.texel, fallbacks - o.fallbacks};
  }
};


void check_close(const std::string& what, const Shape& shape, const std::vector<float>& got, const std::vector<float>& want,
                 const test::Tolerance& tol) {
  const test::Comparison c = test::compare(what, shape, got, want, tol);
  INFO(c.message());
  CHECK(c.ok);
}

// Data-parallel training of a small MLP (all-reduce host steps in several
// buckets, Adam) on the CPU and on Vulkan, 3 steps, then a write_variable and
// one more step: loss, reduced gradients and parameters must agree.
void train_and_compare() {
  Graph g(3);
  const NodeId x = g.placeholder("x", Shape{kBatch, 6});
  const NodeId y = g.placeholder("y", Shape{kBatch}, DType::i32);
  const NodeId weight = g.placeholder("grad_weight", Shape{1});
  const NodeId step = g.placeholder("step", Shape{1}, DType::i32);
  const std::vector<NodeId> params{g.parameter("w1", Shape{6, 16}, Init::uniform(-0.5, 0.5)),
                                   g.parameter("b1", Shape{16}, Init::uniform(-0.1, 0.1)),
                                   g.parameter("w2", Shape{16, 4}, Init::uniform(-0.5, 0.5)),
                                   g.parameter("b2", Shape{4}, Init::uniform(-0.1, 0.1))};
  const NodeId h = ops::relu(g, ops::dense(g, x, params[0], params[1]));
  const NodeId loss = ops::softmax_cross_entropy(g, ops::dense(g, h, params[2], params[3]), y);
  const std::vector<NodeId> reduced = ops::allreduce_gradients(g, grad(g, loss, params), weight, {.bucket_bytes = 68 * 4});
  std::vector<NodeId> targets = ops::adam(g, params, reduced, step, ops::AdamConfig{0.01, 0.9, 0.999, 1e-7});
  targets.push_back(loss);
  targets.insert(targets.end(), reduced.begin(), reduced.end());

  std::unique_ptr<Backend> be[2] = {make_backend("cpu", g, {.threads = 1, .comm = std::make_shared<test::MirroredPair>()}),
                                    make_backend("vulkan", g, {.comm = std::make_shared<test::MirroredPair>()})};
  std::unique_ptr<Executable> exe[2] = {be[0]->compile(targets, 5), be[1]->compile(targets, 5)};
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uni(-1, 1);
  // The mirrored partner doubles: the sum is 0.5 x this rank's gradient, so
  // the gathered values, the weighted ones and the sum all differ (a missing
  // flush or invalidate of any of them shows).
  const float w = 0.25f;
  for (int32_t s = 0; s < 4; ++s) {
    CAPTURE(s);
    if (s == 3) {  // a new w1 through write_variable on both, read back bit for bit
      std::vector<float> w1(6 * 16);
      for (float& v : w1) v = uni(rng);
      for (auto& b : be) b->write_variable(params[0], w1);
      check_close("w1 written", Shape{6, 16}, test::read_variable(*be[1], params[0]), w1, {0, 0, true});
    }
    const int64_t n = s == 1 ? 2 : 5;  // one step at a smaller batch (another recording)
    std::vector<float> xs(static_cast<size_t>(n * 6));
    for (float& v : xs) v = uni(rng);
    std::vector<int32_t> ys(static_cast<size_t>(n));
    for (size_t i = 0; i < ys.size(); ++i) ys[i] = static_cast<int32_t>(rng() % 4);
    const Feed feeds[] = {{x, Shape{n, 6}, DType::f32, xs.data()},
                          {y, Shape{n}, DType::i32, ys.data()},
                          {weight, Shape{1}, DType::f32, &w},
                          {step, Shape{1}, DType::i32, &s}};
    for (auto& e : exe) e->run(feeds);
    std::vector<float> out[2];
    for (int b = 0; b < 2; ++b) out[b].resize(1), exe[b]->fetch(loss, out[b]);
    check_close("loss", Shape{1}, out[1], out[0], {});
    for (NodeId r : reduced) {
      const Shape shape = g.node(r).shape;
      for (int b = 0; b < 2; ++b) out[b].resize(static_cast<size_t>(shape.numel())), exe[b]->fetch(r, out[b]);
      check_close("reduced " + g.describe(r), shape, out[1], out[0], {});
    }
    for (NodeId p : params)
      check_close(g.describe(p), g.node(p).shape, test::read_variable(*be[1], p), test::read_variable(*be[0], p), {1e-6, 1e-3});
  }
}

// Element-wise, broadcasting, layout, reduction, softmax and loss kernels,
// forward and gradients, each with more than 16 x 256 invocations at batch 3
// (and fewer than 16 x 16 x 256).
std::vector<test::ParityCase> grid_cases() {
  using test::ParityInput;
  std::vector<test::ParityCase> cs;
  auto add = [&](std::string name, std::vector<ParityInput> in, test::Builder b) {
    test::ParityCase c;
    c.name = std::move(name), c.inputs = std::move(in), c.build = std::move(b), c.grads = true;
    cs.push_back(std::move(c));
  };
  const Shape s{kBatch, 37, 301};
  add("sigmoid", {ParityInput::f32(s)}, [](Graph& g, const std::vector<NodeId>& p) { return ops::sigmoid(g, p[0]); });
  add("mul broadcast [N,37,301] * [37,1]", {ParityInput::f32(s), ParityInput::f32(Shape{37, 1})},
      [](Graph& g, const std::vector<NodeId>& p) { return ops::mul(g, p[0], p[1]); });
  add("transpose {0,2,1}", {ParityInput::f32(s)},
      [](Graph& g, const std::vector<NodeId>& p) { return ops::transpose(g, p[0], {0, 2, 1}); });
  const Shape wide{kBatch, 5, 4001};  // 12,003 outputs over the middle axis
  add("reduce_sum axis 1", {ParityInput::f32(wide)},
      [](Graph& g, const std::vector<NodeId>& p) { return ops::reduce_sum(g, p[0], {1}); });
  add("softmax axis 1", {ParityInput::f32(wide)}, [](Graph& g, const std::vector<NodeId>& p) { return ops::softmax(g, p[0], 1); });
  add("bce_with_logits", {ParityInput::f32(s), ParityInput::f32(s, 0, 1)},
      [](Graph& g, const std::vector<NodeId>& p) { return ops::bce_with_logits(g, p[0], p[1]); });
  return cs;
}

}  // namespace

TEST_SUITE("backend_parity") {

TEST_CASE("vulkan memory: the discrete mode maps no device-local buffer, stages every transfer, flushes, invalidates, and matches the CPU") {
  if (!test::vulkan_or_skip()) return;
  test::ScopedEnv mode("GRAPHGRAD_VULKAN_MEMORY", "discrete");
  const Counts before = Counts::now();
  train_and_compare();
  const Counts d = Counts::now() - before;
  MESSAGE("discrete: " << d.staging << " staging copies, " << d.flushes << " flushes, " << d.invalidates << " invalidates");
  CHECK(d.mapped == 0);
  CHECK(d.direct == 0);
  CHECK(d.staging >= 4 + 4 + 1);  // a batch per step, every read_variable, the initial values
  CHECK(d.flushes > 0);
  CHECK(d.invalidates > 0);
}

TEST_CASE("vulkan memory: the automatic mode writes mapped device-local memory in place where the device has it") {
  if (!test::vulkan_or_skip()) return;
  test::ScopedEnv mode("GRAPHGRAD_VULKAN_MEMORY", "auto");
  const Counts before = Counts::now();
  train_and_compare();
  const Counts d = Counts::now() - before;
  MESSAGE("auto: " << d.mapped << " device-local buffers mapped, " << d.direct << " in-place transfers, " << d.staging
                   << " staging copies");
  if (d.mapped > 0) CHECK(d.direct > 0);  // unified memory (lavapipe, integrated GPUs): in place
  else CHECK(d.staging > 0);              // a discrete GPU: staged
}

TEST_CASE("vulkan memory: GRAPHGRAD_VULKAN_MEMORY and GRAPHGRAD_VULKAN_MAX_GROUPS reject unknown values, naming them") {
  if (!test::vulkan_or_skip()) return;
  Graph g;
  g.placeholder("x", Shape{1});
  {
    test::ScopedEnv mode("GRAPHGRAD_VULKAN_MEMORY", "host");
    CHECK_THROWS_WITH_AS(make_backend("vulkan", g), doctest::Contains("GRAPHGRAD_VULKAN_MEMORY=\"host\""), BackendError);
  }
  {
    test::ScopedEnv texels("GRAPHGRAD_VULKAN_MAX_TEXELS", "-3");
    CHECK_THROWS_WITH_AS(make_backend("vulkan", g), doctest::Contains("GRAPHGRAD_VULKAN_MAX_TEXELS=\"-3\""), BackendError);
  }
  test::ScopedEnv groups("GRAPHGRAD_VULKAN_MAX_GROUPS", "0");
  CHECK_THROWS_WITH_AS(make_backend("vulkan", g), doctest::Contains("GRAPHGRAD_VULKAN_MAX_GROUPS=\"0\""), BackendError);
}

TEST_CASE("vulkan texels: inputs past (a forced) maxTexelBufferElements run the storage-buffer variants and match the CPU") {
  if (!test::vulkan_or_skip()) return;
  // conv2d (direct on CPU devices), max_pool2d, dense, relu: every texel shader family.
  std::vector<test::ParityCase> cs;
  auto add = [&](std::string name, std::vector<test::ParityInput> in, test::Builder b) {
    test::ParityCase c;
    c.name = std::move(name), c.inputs = std::move(in), c.build = std::move(b), c.grads = true;
    cs.push_back(std::move(c));
  };
  using test::ParityInput;
  add("conv2d + relu + max_pool2d + dense",
      {ParityInput::f32(Shape{kBatch, 3, 10, 9}), ParityInput::f32(Shape{8, 3, 3, 3}, -0.5, 0.5), ParityInput::f32(Shape{8}),
       ParityInput::f32(Shape{8 * 4 * 3, 12}, -0.2, 0.2)},
      [](Graph& g, const std::vector<NodeId>& p) {
        const NodeId y = ops::max_pool2d(g, ops::relu(g, ops::conv2d(g, p[0], p[1], p[2])), 2);
        return ops::dense(g, ops::flatten(g, y), p[3], kNoNode);
      });
  for (const char* limit : {"", "64"}) {
    test::ScopedEnv texels("GRAPHGRAD_VULKAN_MAX_TEXELS", limit);
    const Counts before = Counts::now();
    for (const test::ParityCase& c : cs) {
      const test::ParityResult r = test::run_parity(c, "vulkan", "cpu");
      INFO(std::string(*limit ? limit : "the device's") << " texels: " << c.name << ": " << r.report());
      CHECK(r.ok());
    }
    const Counts d = Counts::now() - before;
    MESSAGE("GRAPHGRAD_VULKAN_MAX_TEXELS=\"" << std::string(limit) << "\": " << d.texel << " texel dispatches, " << d.fallbacks
                                           << " through storage buffers");
    CHECK(d.texel > 0);
    if (*limit) CHECK(d.fallbacks > 0);
    else CHECK(d.fallbacks == 0);
  }
}

TEST_CASE("vulkan groups: under GRAPHGRAD_VULKAN_MAX_GROUPS=16 the kernels spill into 2-D grids and match the CPU") {
  if (!test::vulkan_or_skip()) return;
  test::ScopedEnv groups("GRAPHGRAD_VULKAN_MAX_GROUPS", "16");
  const Counts before = Counts::now();
  for (const test::ParityCase& c : grid_cases()) {
    const test::ParityResult r = test::run_parity(c, "vulkan", "cpu");
    INFO(c.name << ": " << r.report());
    CHECK(r.ok());
  }
  const Counts d = Counts::now() - before;
  MESSAGE(d.spilled << " dispatches spilled into a second grid dimension");
  CHECK(d.spilled > 0);
}

TEST_CASE("vulkan groups: a dispatch over the (forced) maxComputeWorkGroupCount is a BackendError, not undefined behaviour") {
  if (!test::vulkan_or_skip()) return;
  test::ScopedEnv groups("GRAPHGRAD_VULKAN_MAX_GROUPS", "2");
  test::ParityCase c = grid_cases().front();  // 33,411 elements: 131 groups of 256, more than 2 x 2
  c.grads = false;
  const test::ParityResult r = test::run_parity(c, "vulkan", "cpu");
  CHECK(r.error.find("more than the device's 2 (maxComputeWorkGroupCount)") != std::string::npos);
}

}  // TEST_SUITE
