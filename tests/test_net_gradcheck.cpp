// A gradient check of the whole MNIST-style network at reduced size, built
// with the graph API: conv 4@3x3 -> relu -> conv 4@3x3 -> relu -> maxpool 2 ->
// dropout -> flatten -> dense 8 -> relu -> dropout -> dense 5 -> softmax cross
// entropy with i32 labels, batch 3. Every parameter's analytic gradient from
// gg::grad() is compared, element by element, with central differences of the
// loss, the parameters perturbed through Backend::write_variable. The dropout
// masks are fixed by the step and sample_base feeds.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/ops/ops.h>

using namespace gg;

TEST_SUITE("net_gradcheck") {

TEST_CASE("whole-net gradient check of the reduced MNIST CNN, every parameter element, dropout on") {
  constexpr int64_t kBatchSize = 3;
  Graph g(11);
  const NodeId x = g.placeholder("x", Shape{kBatch, 1, 10, 10});
  const NodeId labels = g.placeholder("labels", Shape{kBatch}, DType::i32);
  const NodeId step = g.placeholder("step", Shape{1}, DType::i32);
  const NodeId base = g.placeholder("sample_base", Shape{1}, DType::i32);
  const NodeId k1 = g.parameter("conv1/kernel", Shape{4, 1, 3, 3}, Init::glorot_uniform(9, 36));
  const NodeId b1 = g.parameter("conv1/bias", Shape{4}, Init::uniform(-0.1, 0.1));
  const NodeId k2 = g.parameter("conv2/kernel", Shape{4, 4, 3, 3}, Init::glorot_uniform(36, 36));
  const NodeId b2 = g.parameter("conv2/bias", Shape{4}, Init::uniform(-0.1, 0.1));
  const NodeId w3 = g.parameter("dense1/kernel", Shape{36, 8}, Init::glorot_uniform(36, 8));
  const NodeId b3 = g.parameter("dense1/bias", Shape{8}, Init::uniform(-0.1, 0.1));
  const NodeId w4 = g.parameter("dense2/kernel", Shape{8, 5}, Init::glorot_uniform(8, 5));
  const NodeId b4 = g.parameter("dense2/bias", Shape{5}, Init::uniform(-0.1, 0.1));

  NodeId h = ops::relu(g, ops::conv2d(g, x, k1, b1), "relu1");       // [N,4,8,8]
  h = ops::relu(g, ops::conv2d(g, h, k2, b2), "relu2");              // [N,4,6,6]
  h = ops::max_pool2d(g, h, 2, 0, "pool");                           // [N,4,3,3]
  h = ops::dropout(g, h, step, base, 0.25, 1234, "drop1");
  h = ops::flatten(g, h, "flat");                                    // [N,36]
  h = ops::relu(g, ops::dense(g, h, w3, b3, "dense1"), "relu3");     // [N,8]
  h = ops::dropout(g, h, step, base, 0.5, 5678, "drop2");
  const NodeId logits = ops::dense(g, h, w4, b4, "logits");         // [N,5]
  const NodeId loss = ops::softmax_cross_entropy(g, logits, labels, "loss");
  REQUIRE(g.node(h).shape == Shape{kBatch, 8});

  const std::vector<NodeId> params{k1, b1, k2, b2, w3, b3, w4, b4};
  const std::vector<NodeId> grads = gg::grad(g, loss, params);
  g.validate();

  auto backend = make_backend("cpu", g, BackendOptions{2, {}});
  std::vector<NodeId> targets{loss};
  targets.insert(targets.end(), grads.begin(), grads.end());
  auto exe = backend->compile(targets, kBatchSize);

  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> xv(static_cast<size_t>(kBatchSize * 100));
  for (auto& v : xv) v = u(rng);
  const int32_t yv[kBatchSize] = {2, 0, 4};
  int32_t step_v = 7, base_v = 0;
  const Feed feeds[] = {{x, Shape{kBatchSize, 1, 10, 10}, DType::f32, xv.data()},
                        {labels, Shape{kBatchSize}, DType::i32, yv},
                        {step, Shape{1}, DType::i32, &step_v},
                        {base, Shape{1}, DType::i32, &base_v}};
  auto run_loss = [&] {
    exe->run(feeds);
    float l = 0;
    exe->fetch(loss, {&l, 1});
    return double(l);
  };

  const double loss0 = run_loss();
  CHECK(std::isfinite(loss0));
  std::vector<std::vector<float>> analytic;
  for (NodeId gr : grads) {
    analytic.emplace_back(static_cast<size_t>(g.node(gr).shape.numel()));
    exe->fetch(gr, analytic.back());
  }

  // The masks are in effect and fixed by the feeds: another step or another
  // sample_base gives another loss, the same feeds the same loss, bit for bit.
  step_v = 8;
  CHECK(run_loss() != loss0);
  step_v = 7;
  base_v = 1;
  CHECK(run_loss() != loss0);
  base_v = 0;
  CHECK(run_loss() == loss0);

  // Central differences of the float32 loss. eps trades kinks against rounding:
  // at eps 1e-3, 14 of the 529 elements (all in conv1, the deepest layer)
  // disagree, because relu and max-pool switches lie within +-eps there; they
  // converge to the analytic values as eps shrinks. At 1e-4 none disagree and
  // the relative norm error is 1.7e-3 (per tensor at most 3.4e-3); below that,
  // the loss's float rounding (~1e-7 / eps) takes over (3e-5: 13 fail).
  const double eps = 1e-4;
  double err2 = 0, ref2 = 0;
  int checked = 0, failed = 0;
  for (size_t p = 0; p < params.size(); ++p) {
    const Node& pn = g.node(params[p]);
    CAPTURE(pn.name);
    std::vector<float> values(static_cast<size_t>(pn.shape.numel()));
    backend->read_variable(params[p], values);
    double perr2 = 0, pref2 = 0, anorm2 = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      const float keep = values[i];
      values[i] = keep + float(eps);
      backend->write_variable(params[p], values);
      const double lp = run_loss();
      values[i] = keep - float(eps);
      backend->write_variable(params[p], values);
      const double lm = run_loss();
      values[i] = keep;
      // The step actually taken, after rounding to float.
      const double h2 = double(keep + float(eps)) - double(keep - float(eps));
      const double numeric = (lp - lm) / h2;
      const double a = analytic[p][i];
      const double err = std::abs(a - numeric);
      perr2 += err * err, pref2 += numeric * numeric, anorm2 += a * a;
      ++checked;
      if (err > 2e-3 + 5e-2 * std::abs(numeric)) {
        ++failed;
        MESSAGE(pn.name << "[" << i << "]: analytic " << a << ", numeric " << numeric);
      }
    }
    backend->write_variable(params[p], values);  // restored
    err2 += perr2, ref2 += pref2;
    // Each parameter on its own: a wrong rule for one small tensor (a bias)
    // must not hide behind the large ones.
    const double prel = std::sqrt(perr2 / std::max(pref2, 1e-30));
    INFO("relative norm error " << prel);
    CHECK(anorm2 > 0);  // every parameter gets some gradient
    CHECK(prel < 2e-2);
  }
  const double rel = std::sqrt(err2 / std::max(ref2, 1e-30));
  MESSAGE("checked " << checked << ", failed " << failed << ", relative norm error " << rel);
  CHECK(checked == 4 * 9 + 4 + 4 * 4 * 9 + 4 + 36 * 8 + 8 + 8 * 5 + 5);
  CHECK(rel < 2e-2);
  // Relu and max-pool kinks can make a few single elements disagree.
  CHECK(failed <= checked / 50);
  CHECK(run_loss() == loss0);  // every parameter was put back exactly
}

}  // TEST_SUITE
