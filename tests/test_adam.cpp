// The optimizer update nodes against Keras's formulas, evaluated by hand in
// double precision: Adam (with its bias-corrected step size and the i32 `step`
// feed), SGD with momentum, and Nesterov momentum. The gradient is a
// placeholder fed directly, so these tests see the update kernels alone.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/ops/ops.h>
#include <graphgrad/ops/optimizers.h>
#include <graphgrad/frontends/sequential.h>

using namespace gg;

namespace {

std::vector<float> read(const Backend& b, NodeId id) {
  std::vector<float> v(static_cast<size_t>(b.graph().node(id).shape.numel()));
  b.read_variable(id, v);
  return v;
}

// |got - want| <= rtol * |want| + atol, element by element.
void check_close(const std::vector<float>& got, const std::vector<double>& want, double rtol, double atol,
                 const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(what << "[" << i << "]: got " << got[i] << ", want " << want[i]);
    CHECK(std::abs(double(got[i]) - want[i]) <= rtol * std::abs(want[i]) + atol);
  }
}

// The hyperparameters as the update kernels see them: float32 values, as in
// Keras. 1 - 0.999f is 0.00099998713, 1.3e-5 away from 0.001 in relative terms,
// which shows in v; using the float-rounded betas keeps the reference exact to
// double precision apart from the kernels' own float rounding.
double f32(double x) { return double(static_cast<float>(x)); }

}  // namespace

TEST_SUITE("optimizers") {

TEST_CASE("adam: parameters and slots follow Keras's formulas step by step") {
  const ops::AdamConfig cfg;  // lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7
  CHECK(cfg.lr == 1e-3);
  CHECK(cfg.beta1 == 0.9);
  CHECK(cfg.beta2 == 0.999);
  CHECK(cfg.epsilon == 1e-7);

  Graph g;
  const NodeId p = g.parameter("p", Shape{3}, Init::constant(0.5));
  const NodeId grad = g.placeholder("g", Shape{3});
  const NodeId step = g.placeholder("step", Shape{1}, DType::i32);
  const std::vector<NodeId> updates = ops::adam(g, {p}, {grad}, step, cfg);
  REQUIRE(updates.size() == 1);
  const NodeId m_id = g.at("p/adam_m"), v_id = g.at("p/adam_v");

  auto backend = make_backend("cpu", g, BackendOptions{1, {}});
  // Start from distinct values per element, written through the backend.
  const std::vector<float> p0{0.5f, -1.25f, 2.0f};
  backend->write_variable(p, p0);
  auto exe = backend->compile(updates, 1);

  // A different gradient each step, of mixed signs and magnitudes.
  const std::vector<std::vector<float>> grads{{0.1f, -0.2f, 0.3f}, {-0.05f, 0.4f, 0.25f}, {0.2f, -0.1f, -0.6f}};
  std::vector<double> P(p0.begin(), p0.end()), M(3, 0.0), V(3, 0.0);
  const double b1 = f32(cfg.beta1), b2 = f32(cfg.beta2), eps = f32(cfg.epsilon);
  for (int32_t s = 0; s < 3; ++s) {
    CAPTURE(s);
    const Feed feeds[] = {{grad, Shape{3}, DType::f32, grads[size_t(s)].data()}, {step, Shape{1}, DType::i32, &s}};
    exe->run(feeds);

    const double t = s + 1.0;  // `step` is the number of updates done before this one
    const double lr_t = cfg.lr * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t));
    for (size_t i = 0; i < 3; ++i) {
      const double gi = grads[size_t(s)][i];
      M[i] = b1 * M[i] + (1.0 - b1) * gi;
      V[i] = b2 * V[i] + (1.0 - b2) * gi * gi;
      P[i] -= lr_t * M[i] / (std::sqrt(V[i]) + eps);
    }
    check_close(read(*backend, m_id), M, 1e-6, 1e-12, "adam_m");
    check_close(read(*backend, v_id), V, 1e-6, 1e-15, "adam_v");
    check_close(read(*backend, p), P, 1e-6, 1e-9, "p");
  }

  // Independent of the reference: Adam's steps are about lr in size, so three
  // steps move element 0 (gradients 0.1, -0.05, 0.2) by 1.92e-3 in all.
  const double moved = 0.5 - double(read(*backend, p)[0]);
  CHECK(moved == doctest::Approx(1.9244e-3).epsilon(1e-3));
}

TEST_CASE("adam: the step feed sets the bias correction") {
  // Two identical single-step graphs, fed step 0 and step 9: the first update
  // of a fresh slot moves p by lr_t * (1-b1) g / (sqrt((1-b2) g^2) + eps).
  for (int32_t s : {0, 9}) {
    CAPTURE(s);
    Graph g;
    const NodeId p = g.parameter("w", Shape{2}, Init::constant(1.0));
    const NodeId grad = g.placeholder("g", Shape{2});
    const NodeId step = g.placeholder("step", Shape{1}, DType::i32);
    const ops::AdamConfig cfg{0.01, 0.9, 0.999, 1e-7};
    auto updates = ops::adam(g, {p}, {grad}, step, cfg);
    auto backend = make_backend("cpu", g);
    auto exe = backend->compile(updates, 1);
    const float gv[2] = {0.5f, -2.0f};
    const Feed feeds[] = {{grad, Shape{2}, DType::f32, gv}, {step, Shape{1}, DType::i32, &s}};
    exe->run(feeds);
    const double b1 = f32(cfg.beta1), b2 = f32(cfg.beta2), t = s + 1.0;
    const double lr_t = cfg.lr * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t));
    std::vector<double> want(2);
    for (size_t i = 0; i < 2; ++i) {
      const double m = (1 - b1) * gv[i], v = (1 - b2) * double(gv[i]) * gv[i];
      want[i] = 1.0 - lr_t * m / (std::sqrt(v) + f32(cfg.epsilon));
    }
    check_close(read(*backend, p), want, 1e-6, 1e-9, "w");
  }
}

TEST_CASE("sgd: plain, momentum 0.9 and nesterov") {
  struct Case {
    double momentum;
    bool nesterov;
  };
  std::vector<std::vector<float>> finals;
  for (const Case c : {Case{0.0, false}, Case{0.9, false}, Case{0.9, true}}) {
    CAPTURE(c.momentum);
    CAPTURE(c.nesterov);
    Graph g;
    const NodeId p = g.parameter("p", Shape{3}, Init::zeros());
    const NodeId grad = g.placeholder("g", Shape{3});
    const ops::SgdConfig cfg{0.05, c.momentum, c.nesterov};
    auto updates = ops::sgd(g, {p}, {grad}, cfg);
    const NodeId vel_id = g.at("p/sgd_velocity");
    auto backend = make_backend("cpu", g, BackendOptions{1, {}});
    const std::vector<float> p0{1.0f, -0.5f, 0.25f};
    backend->write_variable(p, p0);
    auto exe = backend->compile(updates, 1);

    const std::vector<std::vector<float>> grads{{0.3f, -0.1f, 0.7f}, {0.2f, 0.2f, -0.4f}, {-0.6f, 0.5f, 0.1f}};
    std::vector<double> P(p0.begin(), p0.end()), Vel(3, 0.0);
    const double lr = f32(cfg.lr), mu = f32(cfg.momentum);
    for (size_t s = 0; s < grads.size(); ++s) {
      CAPTURE(s);
      const Feed feeds[] = {{grad, Shape{3}, DType::f32, grads[s].data()}};
      exe->run(feeds);
      for (size_t i = 0; i < 3; ++i) {
        const double gi = grads[s][i];
        Vel[i] = mu * Vel[i] - lr * gi;  // Keras: v = momentum v - lr g
        P[i] += c.nesterov ? mu * Vel[i] - lr * gi : Vel[i];
      }
      check_close(read(*backend, vel_id), Vel, 1e-6, 1e-9, "velocity");
      check_close(read(*backend, p), P, 1e-6, 1e-9, "p");
    }
    finals.push_back(read(*backend, p));
  }

  // The three variants really take different paths (so each case above tests
  // its own branch of the kernel, not a shared one).
  REQUIRE(finals.size() == 3);
  CHECK(finals[0] != finals[1]);
  CHECK(finals[1] != finals[2]);
}

TEST_CASE("optimizers update through gg::grad: one SGD step on a known loss") {
  // loss = mean_n CE(x_n . W, y_n); with W = 0 the softmax is uniform, so
  // dL/dW[i][c] = mean_n x_n[i] (1/C - [c == y_n]). One plain SGD step: W = -lr dL/dW.
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 2});
  const NodeId y = g.placeholder("y", Shape{kBatch}, DType::i32);
  const NodeId w = g.parameter("w", Shape{2, 3}, Init::zeros());
  const NodeId loss = ops::softmax_cross_entropy(g, ops::dense(g, x, w, kNoNode), y);
  const auto grads = gg::grad(g, loss, {w});
  const auto updates = ops::sgd(g, {w}, grads, {0.5, 0.0, false});
  auto backend = make_backend("cpu", g, BackendOptions{1, {}});
  std::vector<NodeId> targets{loss};
  targets.insert(targets.end(), updates.begin(), updates.end());
  auto exe = backend->compile(targets, 2);
  const float xv[4] = {1.0f, 2.0f, -1.0f, 0.5f};
  const int32_t yv[2] = {0, 2};
  const Feed feeds[] = {{x, Shape{2, 2}, DType::f32, xv}, {y, Shape{2}, DType::i32, yv}};
  exe->run(feeds);
  float lv = 0;
  exe->fetch(loss, {&lv, 1});
  CHECK(lv == doctest::Approx(std::log(3.0)).epsilon(1e-6));  // computed before the update
  std::vector<double> want(6);
  for (int i = 0; i < 2; ++i)
    for (int c = 0; c < 3; ++c) {
      double d = 0;
      for (int n = 0; n < 2; ++n) d += xv[n * 2 + i] * (1.0 / 3 - (c == yv[n] ? 1.0 : 0.0)) / 2;
      want[size_t(i * 3 + c)] = -0.5 * d;
    }
  check_close(read(*backend, w), want, 1e-5, 1e-7, "w");
}

TEST_CASE("Sequential::fit feeds Adam's step like a hand-written training loop") {
  // fit() must feed `step` = 0, 1, 2, ... (the bias correction depends on it),
  // take the batches in order when not shuffling, and apply one update per
  // batch. Replay the same three batches through a hand-built graph with the
  // same initial weights and compare the weights after each fit() call.
  constexpr int64_t kItems = 12, kBatchSize = 4;
  Sequential model(Shape{1, 2, 3}, 5);
  model.add(Flatten{});
  model.add(Dense{3, "fc"});
  model.add(Activation{"softmax"});
  model.compile({.optimizer = Adam{0.01}, .backend_options = {1, {}}});

  Dataset data;
  data.item_shape = Shape{1, 2, 3};
  for (int64_t i = 0; i < kItems * 6; ++i) data.x.push_back(float((i * 7) % 11) / 11.0f - 0.3f);
  for (int64_t i = 0; i < kItems; ++i) data.y.push_back(int32_t((i * 5) % 3));

  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 6});
  const NodeId y = g.placeholder("y", Shape{kBatch}, DType::i32);
  const NodeId step = g.placeholder("step", Shape{1}, DType::i32);
  const NodeId w = g.parameter("w", Shape{6, 3}, Init::zeros());
  const NodeId b = g.parameter("b", Shape{3}, Init::zeros());
  const NodeId loss = ops::softmax_cross_entropy(g, ops::dense(g, x, w, b), y);
  const auto updates = ops::adam(g, {w, b}, gg::grad(g, loss, {w, b}), step, {0.01});
  auto backend = make_backend("cpu", g, BackendOptions{1, {}});
  const NodeId mw = model.graph().at("fc/kernel"), mb = model.graph().at("fc/bias");
  backend->write_variable(w, read(model.backend(), mw));
  backend->write_variable(b, read(model.backend(), mb));
  auto exe = backend->compile(updates, kBatchSize);

  // Two fit() calls (two batches, then one), so the step carries across calls.
  const std::vector<float> w0 = read(model.backend(), mw);
  for (int64_t first : {int64_t(0), int64_t(8)}) {
    const int64_t count = first == 0 ? 8 : 4;
    Dataset part;
    part.item_shape = data.item_shape;
    part.x.assign(data.x.begin() + first * 6, data.x.begin() + (first + count) * 6);
    part.y.assign(data.y.begin() + first, data.y.begin() + first + count);
    model.fit(part, {.batch_size = int(kBatchSize), .epochs = 1, .shuffle = false, .verbose = 0});
    for (int64_t b0 = first; b0 < first + count; b0 += kBatchSize) {
      const auto s = static_cast<int32_t>(b0 / kBatchSize);
      const Feed feeds[] = {{x, Shape{kBatchSize, 6}, DType::f32, data.x.data() + b0 * 6},
                            {y, Shape{kBatchSize}, DType::i32, data.y.data() + b0},
                            {step, Shape{1}, DType::i32, &s}};
      exe->run(feeds);
    }
    CAPTURE(first);
    CHECK(model.step() == (first + count) / kBatchSize);
    const std::vector<float> want_w = read(*backend, w), want_b = read(*backend, b);
    check_close(read(model.backend(), mw), std::vector<double>(want_w.begin(), want_w.end()), 1e-6, 1e-8, "fc/kernel");
    check_close(read(model.backend(), mb), std::vector<double>(want_b.begin(), want_b.end()), 1e-6, 1e-8, "fc/bias");
  }
  CHECK(read(model.backend(), mw) != w0);  // it did train
}

}  // TEST_SUITE
