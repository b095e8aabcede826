// The optimizers step by step against Keras 3's formulas evaluated in double,
// on the CPU and on Vulkan (when there is one; GRAPHGRAD_REQUIRE_VULKAN makes
// its absence a failure): Adam, AdamW, SGD (momentum, Nesterov, weight decay)
// and RMSprop (momentum, centered, weight decay), each over four steps with an
// lr_scale fed 1, 0.5, 0.1, 2 into one compiled executable. Also: an lr_scale
// of 1 gives the bits of no lr_scale, the update ops' shape errors, and
// clipping by global norm against hand-computed values.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/ops/optimizers.h>

#include "parity.h"
#include "test_util.h"

using namespace gg;

namespace {

// The CPU, and Vulkan when it exists here.
std::vector<std::string> backends() {
  std::vector<std::string> out{"cpu"};
  if (const auto why = test::backend_unavailable("vulkan")) {
    if (test::vulkan_required()) FAIL(test::kRequireVulkanEnv << " is set, but there is no vulkan backend: " << *why);
    MESSAGE("no vulkan backend here (" << *why << "): CPU only");
  } else {
    out.push_back("vulkan");
  }
  return out;
}

// The hyperparameters as the kernels see them: float32 (see test_adam.cpp).
double f32(double x) { return double(static_cast<float>(x)); }

// |got - want| <= rtol * |want| + atol, element by element.
void check_close(const std::vector<float>& got, const std::vector<double>& want, double rtol, double atol,
                 const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(what << "[" << i << "]: got " << got[i] << ", want " << want[i]);
    CHECK(std::abs(double(got[i]) - want[i]) <= rtol * std::abs(want[i]) + atol);
  }
}

constexpr int kSteps = 4;
const double kScales[kSteps] = {1.0, 0.5, 0.1, 2.0};
const std::vector<float> kP0{0.5f, -1.25f, 2.0f, -0.75f};
// A different gradient each step, of mixed signs and magnitudes.
const std::vector<std::vector<float>> kGrads{{0.1f, -0.2f, 0.3f, 0.05f},
                                             {-0.05f, 0.4f, 0.25f, -0.3f},
                                             {0.2f, -0.1f, -0.6f, 0.15f},
                                             {0.3f, 0.2f, -0.1f, -0.4f}};

// The reference's parameter and slots (in the order of Case::slots), in double.
struct State {
  std::vector<double> p;
  std::vector<std::vector<double>> slots;
};

// Keras 3's decoupled weight decay, before the update.
void decay(State& s, double wd, double lr) {
  for (double& p : s.p) p -= p * f32(wd) * lr;
}

struct Case {
  std::string name;
  std::vector<std::string> slots;  // state names after "p/"
  bool uses_step = false;          // Adam's i32 step feed
  std::function<std::vector<NodeId>(Graph&, NodeId p, NodeId grad, NodeId step, NodeId lr_scale)> build;
  // One reference step: t = updates done before it, the fed scale, the gradient.
  std::function<void(State&, int t, double scale, const std::vector<float>& g)> step;
};

Case adam_case(const std::string& name, const ops::AdamConfig& cfg) {
  return {name, {"adam_m", "adam_v"}, true,
          [cfg](Graph& g, NodeId p, NodeId grad, NodeId step, NodeId s) { return ops::adam(g, {p}, {grad}, step, cfg, s); },
          [cfg](State& st, int t0, double scale, const std::vector<float>& g) {
            const double b1 = f32(cfg.beta1), b2 = f32(cfg.beta2), eps = f32(cfg.epsilon), t = t0 + 1.0;
            const double lr = cfg.lr * scale;
            // The bias correction from the betas in double (the kernels' too):
            // 1 - 0.999f^t is 1.3e-5 off 1 - 0.999^t, which shows at lr 0.1.
            const double lr_t = lr * std::sqrt(1.0 - std::pow(cfg.beta2, t)) / (1.0 - std::pow(cfg.beta1, t));
            decay(st, cfg.weight_decay, lr);
            auto& m = st.slots[0];
            auto& v = st.slots[1];
            for (size_t i = 0; i < st.p.size(); ++i) {
              m[i] = b1 * m[i] + (1 - b1) * g[i];
              v[i] = b2 * v[i] + (1 - b2) * double(g[i]) * g[i];
              st.p[i] -= lr_t * m[i] / (std::sqrt(v[i]) + eps);
            }
          }};
}

Case sgd_case(const std::string& name, const ops::SgdConfig& cfg) {
  return {name, {"sgd_velocity"}, false,
          [cfg](Graph& g, NodeId p, NodeId grad, NodeId, NodeId s) { return ops::sgd(g, {p}, {grad}, cfg, s); },
          [cfg](State& st, int, double scale, const std::vector<float>& g) {
            const double lr = cfg.lr * scale, mu = f32(cfg.momentum);
            decay(st, cfg.weight_decay, lr);
            auto& vel = st.slots[0];
            for (size_t i = 0; i < st.p.size(); ++i) {
              vel[i] = mu * vel[i] - lr * g[i];
              st.p[i] += cfg.nesterov ? mu * vel[i] - lr * g[i] : vel[i];
            }
          }};
}

Case rmsprop_case(const std::string& name, const ops::RmspropConfig& cfg) {
  std::vector<std::string> slots{"rmsprop_velocity"};
  if (cfg.momentum > 0) slots.push_back("rmsprop_momentum");
  if (cfg.centered) slots.push_back("rmsprop_average_gradient");
  return {name, slots, false,
          [cfg](Graph& g, NodeId p, NodeId grad, NodeId, NodeId s) { return ops::rmsprop(g, {p}, {grad}, cfg, s); },
          [cfg](State& st, int, double scale, const std::vector<float>& g) {
            const double lr = cfg.lr * scale, rho = f32(cfg.rho), mu = f32(cfg.momentum), eps = f32(cfg.epsilon);
            decay(st, cfg.weight_decay, lr);
            auto& v = st.slots[0];
            for (size_t i = 0; i < st.p.size(); ++i) {
              const double gi = g[i];
              v[i] = rho * v[i] + (1 - rho) * gi * gi;
              double denom = v[i] + eps;
              if (cfg.centered) {
                auto& a = st.slots.back();
                a[i] = rho * a[i] + (1 - rho) * gi;
                denom = v[i] - a[i] * a[i] + eps;
              }
              const double increment = lr * gi / std::sqrt(denom);
              if (cfg.momentum > 0) {
                auto& m = st.slots[1];
                m[i] = mu * m[i] + increment;
                st.p[i] -= m[i];
              } else {
                st.p[i] -= increment;
              }
            }
          }};
}

// Runs the case's update for kSteps steps on one compiled executable, feeding
// kScales, and checks the parameter and every slot after each step. Returns
// the final parameter.
std::vector<float> run_case(const Case& c, const std::string& backend_name) {
  CAPTURE(c.name);
  CAPTURE(backend_name);
  Graph g;
  const NodeId p = g.parameter("p", Shape{4}, Init::zeros());
  const NodeId grad = g.placeholder("g", Shape{4});
  const NodeId step = c.uses_step ? g.placeholder("step", Shape{1}, DType::i32) : kNoNode;
  const NodeId scale = g.placeholder("lr_scale", Shape{1});
  const std::vector<NodeId> updates = c.build(g, p, grad, step, scale);
  REQUIRE(updates.size() == 1);
  std::vector<NodeId> slot_ids;
  for (const std::string& s : c.slots) slot_ids.push_back(g.at("p/" + s));
  CHECK(g.variables().size() == 1 + c.slots.size());  // no slot beyond Keras's

  auto backend = make_backend(backend_name, g, BackendOptions{1, {}});
  backend->write_variable(p, kP0);
  auto exe = backend->compile(updates, 1);
  State ref{{kP0.begin(), kP0.end()}, std::vector<std::vector<double>>(c.slots.size(), std::vector<double>(4, 0.0))};
  for (int32_t s = 0; s < kSteps; ++s) {
    CAPTURE(s);
    const auto fed_scale = static_cast<float>(kScales[s]);
    std::vector<Feed> feeds{{grad, Shape{4}, DType::f32, kGrads[size_t(s)].data()},
                            {scale, Shape{1}, DType::f32, &fed_scale}};
    if (c.uses_step) feeds.push_back({step, Shape{1}, DType::i32, &s});
    exe->run(feeds);
    backend->synchronize();
    c.step(ref, s, kScales[s], kGrads[size_t(s)]);
    for (size_t k = 0; k < slot_ids.size(); ++k)
      check_close(test::read_variable(*backend, slot_ids[k]), ref.slots[k], 2e-6, 1e-12, c.slots[k]);
    check_close(test::read_variable(*backend, p), ref.p, 1e-6, 1e-9, "p");
  }
  return test::read_variable(*backend, p);
}

// Runs updates built with and without an lr_scale fed 1.0, three steps each,
// and returns every variable's bytes after each step.
std::vector<std::vector<float>> trajectory(const std::string& backend_name, bool with_scale,
                                           const std::function<std::vector<NodeId>(Graph&, const std::vector<NodeId>&,
                                                                                   const std::vector<NodeId>&, NodeId,
                                                                                   NodeId)>& build,
                                           bool uses_step) {
  Graph g(11);
  const std::vector<Shape> shapes{Shape{5, 7}, Shape{300}};
  std::vector<NodeId> params, grads;
  for (size_t i = 0; i < shapes.size(); ++i) {
    params.push_back(g.parameter("p" + std::to_string(i), shapes[i], Init::uniform(-1, 1)));
    grads.push_back(g.placeholder("g" + std::to_string(i), shapes[i]));
  }
  const NodeId step = uses_step ? g.placeholder("step", Shape{1}, DType::i32) : kNoNode;
  const NodeId scale = with_scale ? g.placeholder("lr_scale", Shape{1}) : kNoNode;
  const std::vector<NodeId> updates = build(g, params, grads, step, scale);
  auto backend = make_backend(backend_name, g, BackendOptions{2, {}});
  auto exe = backend->compile(updates, 1);
  std::vector<std::vector<float>> out;
  const float one = 1.0f;
  for (int32_t s = 0; s < 3; ++s) {
    std::vector<std::vector<float>> gv;
    std::vector<Feed> feeds;
    for (size_t i = 0; i < shapes.size(); ++i) {
      gv.push_back(test::distinct_values(shapes[i].numel(), 100 + uint64_t(s) * 7 + i, 0.01));
      feeds.push_back({grads[i], shapes[i], DType::f32, gv.back().data()});
    }
    if (uses_step) feeds.push_back({step, Shape{1}, DType::i32, &s});
    if (with_scale) feeds.push_back({scale, Shape{1}, DType::f32, &one});
    exe->run(feeds);
    backend->synchronize();
    for (NodeId v : g.variables()) out.push_back(test::read_variable(*backend, v));
  }
  return out;
}

bool same_bits(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0)
      return false;
  return true;
}

}  // namespace

TEST_SUITE("optimizers") {

TEST_CASE("optimizers: Keras 3's defaults") {
  const ops::RmspropConfig r;
  CHECK(r.lr == 1e-3);
  CHECK(r.rho == 0.9);
  CHECK(r.momentum == 0.0);
  CHECK(r.epsilon == 1e-7);
  CHECK(!r.centered);
  CHECK(r.weight_decay == 0.0);
  const ops::AdamWConfig w;
  CHECK(w.lr == 1e-3);
  CHECK(w.weight_decay == 0.004);
  CHECK(w.epsilon == 1e-7);
  CHECK(ops::AdamConfig{}.weight_decay == 0.0);
  CHECK(ops::SgdConfig{}.weight_decay == 0.0);
}

TEST_CASE("optimizers: an lr_scale of 1 gives the bits of no lr_scale (adam, sgd)") {
  using Build = std::function<std::vector<NodeId>(Graph&, const std::vector<NodeId>&, const std::vector<NodeId>&,
                                                  NodeId, NodeId)>;
  struct Variant {
    const char* name;
    bool uses_step;
    Build build;
  };
  const Variant variants[] = {
      {"adam default", true,
       [](Graph& g, const auto& p, const auto& gr, NodeId st, NodeId s) { return ops::adam(g, p, gr, st, {}, s); }},
      {"adam lr 0.01", true,
       [](Graph& g, const auto& p, const auto& gr, NodeId st, NodeId s) {
         return ops::adam(g, p, gr, st, {0.01, 0.8, 0.99, 1e-5}, s);
       }},
      {"sgd plain", false,
       [](Graph& g, const auto& p, const auto& gr, NodeId, NodeId s) { return ops::sgd(g, p, gr, {0.1}, s); }},
      {"sgd momentum", false,
       [](Graph& g, const auto& p, const auto& gr, NodeId, NodeId s) { return ops::sgd(g, p, gr, {0.05, 0.9}, s); }},
      {"sgd nesterov", false,
       [](Graph& g, const auto& p, const auto& gr, NodeId, NodeId s) {
         return ops::sgd(g, p, gr, {0.05, 0.9, true}, s);
       }},
  };
  for (const std::string& be : backends())
    for (const Variant& v : variants) {
      CAPTURE(be);
      CAPTURE(v.name);
      const auto without = trajectory(be, false, v.build, v.uses_step);
      const auto with = trajectory(be, true, v.build, v.uses_step);
      CHECK(same_bits(without, with));
      CHECK(without.front() != without.back());  // it did update
    }
}

TEST_CASE("adam and adamw step by step with lr_scale 1, 0.5, 0.1, 2") {
  const Case cases[] = {
      adam_case("adam", {}),
      adam_case("adam lr 0.05 weight_decay 0.1", {.lr = 0.05, .weight_decay = 0.1}),
  };
  for (const std::string& be : backends()) {
    std::vector<std::vector<float>> finals;
    for (const Case& c : cases) finals.push_back(run_case(c, be));
    // AdamW through its own builder: Adam with Keras's weight decay 0.004.
    Case w = adam_case("adamw", {.weight_decay = 0.004});
    w.build = [](Graph& g, NodeId p, NodeId grad, NodeId step, NodeId s) {
      return ops::adamw(g, {p}, {grad}, step, {}, s);
    };
    finals.push_back(run_case(w, be));
    CHECK(finals[2] != finals[0]);  // the decay moved AdamW off Adam's path
  }
}

TEST_CASE("sgd step by step: plain, momentum, nesterov, weight decay, with lr_scale") {
  const Case cases[] = {
      sgd_case("sgd plain", {.lr = 0.1}),
      sgd_case("sgd momentum 0.9", {.lr = 0.05, .momentum = 0.9}),
      sgd_case("sgd nesterov", {.lr = 0.05, .momentum = 0.9, .nesterov = true}),
      sgd_case("sgd nesterov weight_decay 0.2", {.lr = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 0.2}),
  };
  for (const std::string& be : backends()) {
    std::vector<std::vector<float>> finals;
    for (const Case& c : cases) finals.push_back(run_case(c, be));
    CHECK(finals[0] != finals[1]);
    CHECK(finals[1] != finals[2]);
    CHECK(finals[2] != finals[3]);
  }
}

TEST_CASE("rmsprop step by step: plain, momentum, centered, both, weight decay, with lr_scale") {
  const Case cases[] = {
      rmsprop_case("rmsprop", {}),
      rmsprop_case("rmsprop lr 0.01 momentum 0.9", {.lr = 0.01, .momentum = 0.9}),
      rmsprop_case("rmsprop centered", {.lr = 0.01, .centered = true}),
      rmsprop_case("rmsprop centered momentum 0.5 rho 0.8", {.lr = 0.01, .rho = 0.8, .momentum = 0.5, .centered = true}),
      rmsprop_case("rmsprop weight_decay 0.3", {.lr = 0.01, .weight_decay = 0.3}),
  };
  for (const std::string& be : backends()) {
    std::vector<std::vector<float>> finals;
    for (const Case& c : cases) finals.push_back(run_case(c, be));
    for (size_t i = 1; i < finals.size(); ++i) CHECK(finals[i] != finals[0]);
  }
}

TEST_CASE("optimizers: a bad lr_scale is a GraphError naming the update") {
  Graph g;
  const NodeId p = g.parameter("w", Shape{3}, Init::zeros());
  const NodeId grad = g.placeholder("g", Shape{3});
  const NodeId step = g.placeholder("step", Shape{1}, DType::i32);
  const NodeId two = g.placeholder("two", Shape{2});
  const NodeId ints = g.placeholder("ints", Shape{1}, DType::i32);
  std::string msg = test::error_of<GraphError>([&] { ops::sgd(g, {p}, {grad}, {}, two); });
  CHECK_MSG(msg, "update/w");
  CHECK_MSG(msg, "lr_scale");
  CHECK_MSG(msg, "[1]");
  msg = test::error_of<GraphError>([&] { ops::adam(g, {p}, {grad}, step, {}, ints); });
  CHECK_MSG(msg, "lr_scale");
  CHECK_MSG(msg, "f32");
  msg = test::error_of<GraphError>([&] { ops::rmsprop(g, {p}, {grad}, {.momentum = 0.9}, two); });
  CHECK_MSG(msg, "rmsprop_update");
  CHECK_MSG(msg, "lr_scale");
}

TEST_CASE("clip_by_global_norm: TF's scaling, below, at and above the threshold, on each backend") {
  // Gradients with squares summing to 9 + 16 = 25: global norm 5.
  const std::vector<float> a{1, 2, -2, 0}, b{0, -4, 0};
  struct Expect {
    double clip_norm, scale;
  };
  for (const std::string& be : backends())
    for (const Expect e : {Expect{2.5, 0.5}, Expect{4.0, 0.8}, Expect{5.0, 1.0}, Expect{10.0, 1.0}}) {
      CAPTURE(be);
      CAPTURE(e.clip_norm);
      Graph g;
      const NodeId ga = g.placeholder("ga", Shape{2, 2}), gb = g.placeholder("gb", Shape{3});
      NodeId norm = kNoNode;
      const std::vector<NodeId> clipped = ops::clip_by_global_norm(g, {ga, gb}, e.clip_norm, &norm);
      REQUIRE(clipped.size() == 2);
      REQUIRE(norm != kNoNode);
      CHECK(g.node(clipped[0]).shape == Shape{2, 2});
      CHECK(g.node(clipped[1]).shape == Shape{3});
      auto backend = make_backend(be, g, BackendOptions{1, {}});
      auto exe = backend->compile({clipped[0], clipped[1], norm}, 1);
      const Feed feeds[] = {{ga, Shape{2, 2}, DType::f32, a.data()}, {gb, Shape{3}, DType::f32, b.data()}};
      exe->run(feeds);
      float n = 0;
      std::vector<float> ca(4), cb(3);
      exe->fetch(norm, {&n, 1});
      exe->fetch(clipped[0], ca);
      exe->fetch(clipped[1], cb);
      CHECK(n == doctest::Approx(5.0).epsilon(1e-7));
      std::vector<double> want_a, want_b;
      for (float x : a) want_a.push_back(x * e.scale);
      for (float x : b) want_b.push_back(x * e.scale);
      check_close(ca, want_a, 1e-6, 0, "clipped a");
      check_close(cb, want_b, 1e-6, 0, "clipped b");
      if (e.clip_norm > 5.0) {  // under the threshold: untouched, bit for bit (scale = c / c)
        CHECK(ca == a);
        CHECK(cb == b);
      }
    }
}

TEST_CASE("clip_by_global_norm: an overflowed norm makes the gradients NaN, as TF's") {
  Graph g;
  const NodeId ga = g.placeholder("ga", Shape{2});
  const std::vector<NodeId> clipped = ops::clip_by_global_norm(g, {ga}, 1.0);
  auto backend = make_backend("cpu", g, BackendOptions{1, {}});
  auto exe = backend->compile(clipped, 1);
  const float big[2] = {1e30f, 0.5f};  // 1e60 overflows float: norm inf
  const Feed feeds[] = {{ga, Shape{2}, DType::f32, big}};
  exe->run(feeds);
  std::vector<float> out(2);
  exe->fetch(clipped[0], out);
  CHECK(std::isnan(out[0]));
  CHECK(std::isnan(out[1]));
  CHECK_THROWS_AS(ops::clip_by_global_norm(g, {ga}, 0.0), GraphError);
  CHECK_THROWS_AS(ops::clip_by_global_norm(g, {}, 1.0), GraphError);
}

TEST_CASE("clip_by_global_norm then sgd: the step uses the clipped gradient") {
  // Plain SGD with lr 1 subtracts the clipped gradient: norm 5 clipped to 1.
  Graph g;
  const NodeId w = g.parameter("w", Shape{2}, Init::zeros());
  const NodeId grad = g.placeholder("g", Shape{2});
  const auto updates = ops::sgd(g, {w}, ops::clip_by_global_norm(g, {grad}, 1.0), {.lr = 1.0});
  for (const std::string& be : backends()) {
    CAPTURE(be);
    auto backend = make_backend(be, g, BackendOptions{1, {}});
    auto exe = backend->compile(updates, 1);
    const float gv[2] = {3, -4};
    const Feed feeds[] = {{grad, Shape{2}, DType::f32, gv}};
    exe->run(feeds);
    backend->synchronize();
    check_close(test::read_variable(*backend, w), {-0.6, 0.8}, 1e-6, 0, "w");
  }
}

}  // TEST_SUITE
