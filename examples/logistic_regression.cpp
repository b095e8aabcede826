// Logistic regression with the graph API: 512 generated points in two
// overlapping Gaussian classes, p = sigmoid(x . w + b), trained with Adam on
// the binary cross-entropy, fused with the sigmoid (bce_with_logits: stable
// where sigmoid then log is not). Runs on the backend named on the command
// line and exits non-zero unless the loss ends under max_loss and at least
// 96% of the points are classified right.
//   logistic_regression [cpu|vulkan] [steps=300] [max_loss=0.08]
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/ops.h>
#include <graphgrad/ops/optimizers.h>

int main(int argc, char** argv) {
  using namespace gg;
  const std::string backend_name = argc > 1 ? argv[1] : "cpu";
  const int steps = argc > 2 ? std::atoi(argv[2]) : 300;
  const double max_loss = argc > 3 ? std::atof(argv[3]) : 0.08;

  Graph g(/*seed=*/5);
  const NodeId x = g.placeholder("x", Shape{kBatch, 2});
  const NodeId t = g.placeholder("t", Shape{kBatch, 1});
  const NodeId step = g.placeholder("step", Shape{1}, DType::i32);
  const NodeId w = g.parameter("w", Shape{2, 1}, Init::glorot_uniform(2, 1));
  const NodeId b = g.parameter("b", Shape{1}, Init::zeros());
  const NodeId logits = ops::dense(g, x, w, b, "logits");
  const NodeId loss = ops::bce_with_logits(g, logits, t, "loss");
  const NodeId p = ops::sigmoid(g, logits, "p");
  std::vector<NodeId> targets = ops::adam(g, {w, b}, grad(g, loss, {w, b}), step, {.lr = 0.05});
  targets.insert(targets.begin(), {loss, p});

  // Class 1 around (1.5, 1.5), class 0 around (-1.5, -1.5), unit variance: the best
  // linear boundary classifies ~98% right.
  constexpr int kPoints = 512;
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<float> xs, ts;
  for (int i = 0; i < kPoints; ++i) {
    const float c = float(i % 2), m = c ? 1.5f : -1.5f;
    xs.insert(xs.end(), {m + noise(rng), m + noise(rng)});
    ts.push_back(c);
  }

  auto backend = make_backend(backend_name, g);
  auto train = backend->compile(targets, kPoints);
  int32_t k = 0;
  const Feed feeds[] = {{x, Shape{kPoints, 2}, DType::f32, xs.data()},
                        {t, Shape{kPoints, 1}, DType::f32, ts.data()},
                        {step, Shape{1}, DType::i32, &k}};
  float first = 0, last = 0;
  std::vector<float> probs(kPoints);
  for (; k < steps; ++k) {
    train->run(feeds);
    train->fetch(loss, {&last, 1});
    if (k == 0) first = last;
  }
  train->fetch(p, probs);
  int right = 0;
  for (int i = 0; i < kPoints; ++i) right += (probs[size_t(i)] > 0.5f) == (ts[size_t(i)] > 0.5f);
  const double accuracy = double(right) / kPoints;
  std::printf("logistic regression on %s: loss %.4f -> %.4f, accuracy %.1f%%\n", backend->name().c_str(), first, last,
              100 * accuracy);
  return last < max_loss && accuracy >= 0.96 ? 0 : 1;
}
