// The op test table's cases for batch normalization (see op_cases.h), and its
// tests on both backends against closed forms computed here in double: the
// training and inference outputs, and the moving statistics over 3 updates.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/ops.h>

#include "op_cases.h"

namespace gg::test {
namespace {

ParityInput positive(Shape s, uint64_t seed) { return ranged(std::move(s), 0.2f, 2.0f, seed); }
ParityInput fixed(ParityInput p) {
  p.differentiable = false;  // statistics: no gradient
  return p;
}

}  // namespace

void batch_norm_cases(std::vector<OpCase>& out) {
  // Training mode: rank 2 (per feature; at batch 1 the variance is 0 and y =
  // beta), rank 3 and rank 4 (per channel, H*W > 1), odd sizes, the CPU's
  // both layouts (inner >= 16 and below), more than one block of 64 channels.
  struct TrainCase {
    Shape x;
    float lo, hi;
  };
  const TrainCase train[] = {{Shape{kBatch, 5}, -2, 2}, {Shape{kBatch, 4, 7}, -2, 2}, {Shape{kBatch, 3, 4, 5}, -2, 2},
                             {Shape{kBatch, 67}, -2, 2}, {Shape{kBatch, 2, 3, 1, 5}, -2, 2},
                             // |mean| >> std: the shifted sums keep the variance
                             {Shape{kBatch, 3, 5, 5}, 40, 44}};
  uint64_t seed = 100;
  for (const TrainCase& t : train) {
    const int64_t c = t.x[1];
    const std::string name = "batch_norm x" + t.x.str() + " in [" + std::to_string(int(t.lo)) + "," + std::to_string(int(t.hi)) + ")";
    out.push_back({make_case(name, {ranged(t.x, t.lo, t.hi, ++seed), ranged(Shape{c}, 0.5f, 1.5f, ++seed),
                                    ranged(Shape{c}, -1, 1, ++seed)},
                             [](Graph& g, const std::vector<NodeId>& p) { return ops::batch_norm(g, p[0], p[1], p[2], 1e-3); })});
    out.back().parity.expect_ops = {"batch_norm_backward_reduce", "batch_norm_backward"};
  }
  // Keras's default epsilon and a larger one.
  out.push_back({make_case("batch_norm x[N,3,4,5] epsilon 0.1",
                           {ranged(Shape{kBatch, 3, 4, 5}, -1, 1, 121), ranged(Shape{3}, 0.5f, 1.5f, 122), ranged(Shape{3}, -1, 1, 123)},
                           [](Graph& g, const std::vector<NodeId>& p) { return ops::batch_norm(g, p[0], p[1], p[2], 0.1); })});
  // More than one reduce workgroup's block (8192 values) per channel on
  // Vulkan at batch 3: 3 * 60 * 50 = 9000. Parity only (the gradient check
  // of the small cases covers the formulas).
  out.push_back({make_case("batch_norm x[N,2,60,50] (Vulkan: 2 blocks per channel)",
                           {ranged(Shape{kBatch, 2, 60, 50}, -2, 2, 131), ranged(Shape{2}, 0.5f, 1.5f, 132), ranged(Shape{2}, -1, 1, 133)},
                           [](Graph& g, const std::vector<NodeId>& p) { return ops::batch_norm(g, p[0], p[1], p[2]); }),
                 /*gradcheck=*/false});

  // Inference mode: given mean and variance (not differentiated).
  const Shape infer[] = {Shape{kBatch, 5}, Shape{kBatch, 3, 4, 5}, Shape{kBatch, 4, 7}};
  for (const Shape& s : infer) {
    const int64_t c = s[1];
    out.push_back({make_case("batch_norm_inference x" + s.str(),
                             {ranged(s, -2, 2, ++seed), ranged(Shape{c}, 0.5f, 1.5f, ++seed), ranged(Shape{c}, -1, 1, ++seed),
                              fixed(ranged(Shape{c}, -0.5f, 0.5f, ++seed)), fixed(positive(Shape{c}, ++seed))},
                             [](Graph& g, const std::vector<NodeId>& p) {
                               return ops::batch_norm_inference(g, p[0], p[1], p[2], p[3], p[4], 1e-3);
                             })});
    out.back().parity.expect_ops = {"batch_norm_backward_reduce"};
  }
}

namespace {

// Runs y on `backend` at the given batch; returns y's values.
std::vector<float> run_on(const std::string& backend, Graph& g, NodeId y, const std::vector<Feed>& feeds, int64_t batch) {
  auto b = make_backend(backend, g, BackendOptions{2, {}});
  auto exe = b->compile({y}, batch);
  std::vector<Feed> used;  // the targets' own inputs only
  for (const Feed& f : feeds)
    if (std::find(exe->inputs().begin(), exe->inputs().end(), f.node) != exe->inputs().end()) used.push_back(f);
  exe->run(used);
  b->synchronize();
  std::vector<float> out(static_cast<size_t>(g.node(y).shape.numel(batch)));
  exe->fetch(y, out);
  return out;
}

// The backends to check here: the CPU, and Vulkan where it exists (a missing
// device is a failure under GRAPHGRAD_REQUIRE_VULKAN).
std::vector<std::string> backends_here() {
  std::vector<std::string> out{"cpu"};
  if (const auto why = backend_unavailable("vulkan"); !why) out.push_back("vulkan");
  else if (vulkan_required()) FAIL(kRequireVulkanEnv << " is set, but there is no Vulkan backend: " << *why);
  else MESSAGE(kParitySkipMarker << ": no vulkan backend here (" << *why << "); the CPU only");
  return out;
}

// Per channel of x [n, c, inner]: the mean and biased variance, in double.
void moments(const std::vector<float>& x, int64_t n, int64_t c, int64_t inner, std::vector<double>& mean,
             std::vector<double>& var) {
  mean.assign(size_t(c), 0.0);
  var.assign(size_t(c), 0.0);
  for (int64_t k = 0; k < c; ++k) {
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) s += x[size_t((i * c + k) * inner + j)];
    const double mu = s / double(n * inner);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) q += std::pow(x[size_t((i * c + k) * inner + j)] - mu, 2);
    mean[size_t(k)] = mu;
    var[size_t(k)] = q / double(n * inner);
  }
}

std::vector<float> uniform(size_t count, float lo, float hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(count);
  for (float& e : v) e = u(rng);
  return v;
}

}  // namespace

TEST_SUITE("op_table") {

TEST_CASE("batch_norm: training and inference outputs match the closed form on every backend") {
  struct Case {
    int64_t n, c, h, w;
    float lo, hi;
  };
  // Batch 1 of rank 2 (variance 0: y = beta), rank 4 at batch 1 and 3, a
  // large mean with a small spread, a channel longer than one Vulkan block.
  const Case cases[] = {{1, 5, 0, 0, -2, 2}, {4, 6, 0, 0, -2, 2}, {1, 3, 4, 5, -2, 2}, {3, 3, 4, 5, -2, 2},
                        {2, 2, 3, 3, 1000, 1000.05f}, {3, 2, 60, 50, -1, 3}};
  for (const std::string& backend : backends_here()) {
    for (const Case& cs : cases) {
      CAPTURE(backend);
      CAPTURE(cs.n);
      CAPTURE(cs.c);
      CAPTURE(cs.h);
      const bool rank4 = cs.h > 0;
      const int64_t inner = rank4 ? cs.h * cs.w : 1;
      const Shape xs = rank4 ? Shape{kBatch, cs.c, cs.h, cs.w} : Shape{kBatch, cs.c};
      const Shape xr = xs.resolved(cs.n);
      Graph g;
      const NodeId x = g.placeholder("x", xs);
      const NodeId gamma = g.placeholder("gamma", Shape{cs.c});
      const NodeId beta = g.placeholder("beta", Shape{cs.c});
      const NodeId mean = g.placeholder("mean", Shape{cs.c});
      const NodeId var = g.placeholder("var", Shape{cs.c});
      const double eps = 1e-3;
      const NodeId train = ops::batch_norm(g, x, gamma, beta, eps);
      const NodeId infer = ops::batch_norm_inference(g, x, gamma, beta, mean, var, eps);
      const std::vector<float> xv = uniform(size_t(xr.numel()), cs.lo, cs.hi, 5);
      const std::vector<float> gv = uniform(size_t(cs.c), 0.5f, 1.5f, 6), bv = uniform(size_t(cs.c), -1, 1, 7);
      const std::vector<float> mv = uniform(size_t(cs.c), -1, 1, 8), vv = uniform(size_t(cs.c), 0.2f, 2, 9);
      const std::vector<Feed> feeds{{x, xr, DType::f32, xv.data()}, {gamma, Shape{cs.c}, DType::f32, gv.data()},
                                    {beta, Shape{cs.c}, DType::f32, bv.data()}, {mean, Shape{cs.c}, DType::f32, mv.data()},
                                    {var, Shape{cs.c}, DType::f32, vv.data()}};
      std::vector<double> bm, bvar;
      moments(xv, cs.n, cs.c, inner, bm, bvar);
      const std::vector<float> yt = run_on(backend, g, train, feeds, cs.n);
      const std::vector<float> yi = run_on(backend, g, infer, feeds, cs.n);
      double worst_t = 0, worst_i = 0;
      for (size_t e = 0; e < xv.size(); ++e) {
        const size_t k = size_t((int64_t(e) / inner) % cs.c);
        const double want_t = (xv[e] - bm[k]) / std::sqrt(bvar[k] + eps) * gv[k] + bv[k];
        const double want_i = (xv[e] - mv[k]) / std::sqrt(vv[k] + eps) * gv[k] + bv[k];
        worst_t = std::max(worst_t, std::abs(yt[e] - want_t));
        worst_i = std::max(worst_i, std::abs(yi[e] - want_i) / std::max(1.0, std::abs(want_i)));
      }
      // The large-mean case: the mean held in float is off by up to 3e-5 at
      // 1000, a visible fraction of the spread (std 0.014), so y is good to
      // ~3e-3 there (in Keras too); unshifted sums of squares would be garbage.
      CHECK(worst_t < (cs.lo > 100 ? 5e-3 : 1e-4));
      CHECK(worst_i < 1e-5);
      if (!rank4 && cs.n == 1)
        for (size_t e = 0; e < xv.size(); ++e) CHECK(yt[e] == bv[e]);  // variance 0: y = beta exactly
    }
  }
}

TEST_CASE("batch_norm_moving_update: 3 steps against Keras's formula on every backend") {
  struct Case {
    Shape x;
    int64_t batch;
  };
  // Rank 4 with an odd batch, rank 2, and a channel longer than one Vulkan block.
  const Case cases[] = {{Shape{kBatch, 3, 4, 5}, 3}, {Shape{kBatch, 6}, 5}, {Shape{kBatch, 2, 60, 50}, 3}};
  const double momentum = 0.9;
  for (const std::string& backend : backends_here()) {
    for (const Case& cs : cases) {
      CAPTURE(backend);
      CAPTURE(cs.x.str());
      const Shape xr = cs.x.resolved(cs.batch);
      const int64_t c = xr[1], inner = xr.numel() / (xr[0] * c);
      Graph g;
      const NodeId x = g.placeholder("x", cs.x);
      const NodeId mm = g.state("bn/moving_mean", Shape{c});
      const NodeId mv = g.state("bn/moving_variance", Shape{c}, 1.0f);
      const NodeId up = ops::batch_norm_moving_update(g, x, mm, mv, momentum);
      auto b = make_backend(backend, g, BackendOptions{2, {}});
      auto exe = b->compile({up}, cs.batch);
      std::vector<double> want_m(size_t(c), 0.0), want_v(size_t(c), 1.0);
      for (int step = 0; step < 3; ++step) {
        CAPTURE(step);
        // Each step's batch has other statistics: shifted and scaled per step.
        const std::vector<float> xv = uniform(size_t(xr.numel()), -1.0f + float(step), 1.0f + 3.0f * float(step), 40 + uint64_t(step));
        exe->run(std::vector<Feed>{{x, xr, DType::f32, xv.data()}});
        b->synchronize();
        std::vector<double> bm, bv;
        moments(xv, xr[0], c, inner, bm, bv);
        for (size_t k = 0; k < size_t(c); ++k) {
          want_m[k] = momentum * want_m[k] + (1 - momentum) * bm[k];
          want_v[k] = momentum * want_v[k] + (1 - momentum) * bv[k];  // the biased variance, as Keras 3
        }
        const std::vector<float> got_m = read_variable(*b, mm), got_v = read_variable(*b, mv);
        for (size_t k = 0; k < size_t(c); ++k) {
          CHECK(got_m[k] == doctest::Approx(want_m[k]).epsilon(1e-5));
          CHECK(got_v[k] == doctest::Approx(want_v[k]).epsilon(1e-5));
        }
      }
    }
  }
}

TEST_CASE("batch_norm: the CPU's results do not depend on the thread count") {
  // Both CPU layouts (per-channel runs; blocks of 64 channels, two of them),
  // large enough that the pool splits the work.
  for (const Shape& xs : {Shape{64, 5, 20, 20}, Shape{600, 130}}) {
    CAPTURE(xs.str());
    const int64_t c = xs[1];
    Graph g;
    const NodeId x = g.placeholder("x", xs);
    const NodeId gamma = g.placeholder("gamma", Shape{c});
    const NodeId beta = g.placeholder("beta", Shape{c});
    const NodeId y = ops::batch_norm(g, x, gamma, beta);
    const NodeId dy = g.placeholder("dy", xs);
    std::vector<NodeId> targets{y};
    for (NodeId d : vjp(g, y, dy, {x, gamma, beta})) targets.push_back(d);
    const NodeId mm = g.state("mm", Shape{c}), mv = g.state("mv", Shape{c}, 1);
    targets.push_back(ops::batch_norm_moving_update(g, x, mm, mv));
    const std::vector<float> xv = uniform(size_t(xs.numel()), -1, 3, 1), dyv = uniform(size_t(xs.numel()), -1, 1, 2);
    const std::vector<float> gv = uniform(size_t(c), 0.5f, 1.5f, 3), bv = uniform(size_t(c), -1, 1, 4);
    const std::vector<Feed> feeds{{x, xs, DType::f32, xv.data()}, {dy, xs, DType::f32, dyv.data()},
                                  {gamma, Shape{c}, DType::f32, gv.data()}, {beta, Shape{c}, DType::f32, bv.data()}};
    std::vector<std::vector<float>> first;
    for (const int threads : {1, 2, 5}) {
      CAPTURE(threads);
      auto b = make_backend("cpu", g, BackendOptions{threads, {}});
      auto exe = b->compile(targets, xs[0]);
      exe->run(feeds);
      std::vector<std::vector<float>> got;
      for (size_t t = 0; t + 1 < targets.size(); ++t) {
        got.emplace_back(static_cast<size_t>(g.node(targets[t]).shape.numel()));
        exe->fetch(targets[t], got.back());
      }
      got.push_back(read_variable(*b, mm));
      got.push_back(read_variable(*b, mv));
      if (first.empty()) first = got;
      else
        for (size_t t = 0; t < got.size(); ++t) CHECK(got[t] == first[t]);
    }
  }
}

TEST_CASE("batch_norm: shapes, statistics without gradients, and updates are checked, naming the node") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 3, 4, 4});
  const NodeId gamma = g.placeholder("gamma", Shape{3});
  const NodeId beta = g.placeholder("beta", Shape{3});
  const NodeId wrong = g.placeholder("wrong", Shape{4});
  const NodeId v1 = g.placeholder("v1", Shape{kBatch});
  CHECK_THROWS_WITH_AS(ops::batch_norm(g, x, wrong, beta, 1e-3, "bn"), doctest::Contains("batch_norm \"bn\": gamma"), GraphError);
  CHECK_THROWS_WITH_AS(ops::batch_norm(g, v1, wrong, wrong, 1e-3, "bn1"), doctest::Contains("rank >= 2"), GraphError);
  CHECK_THROWS_WITH_AS(ops::batch_norm(g, x, gamma, beta, -1.0, "bn2"), doctest::Contains("epsilon"), GraphError);
  // The moving statistics must be states; the momentum in [0, 1].
  const NodeId mm = g.state("mm", Shape{3}), mvar = g.state("mv", Shape{3}, 1);
  CHECK_THROWS_WITH_AS(ops::batch_norm_moving_update(g, x, gamma, mvar, 0.99, "up"), doctest::Contains("must be a state"), GraphError);
  CHECK_THROWS_WITH_AS(ops::batch_norm_moving_update(g, x, mm, mvar, 1.5, "up2"), doctest::Contains("momentum"), GraphError);
  // Inference mode: a gradient through the statistics is refused by name.
  const NodeId stats = g.placeholder("stats", Shape{3});
  const NodeId y = ops::batch_norm_inference(g, x, gamma, beta, stats, mvar, 1e-3, "bni");
  CHECK_THROWS_WITH_AS(vjp(g, y, g.placeholder("dy", Shape{kBatch, 3, 4, 4}), {stats}),
                       doctest::Contains("batch_norm_inference \"bni\": the mean and variance are statistics"), GraphError);
}

}  // TEST_SUITE

}  // namespace gg::test
