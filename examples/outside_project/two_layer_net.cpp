// A two-layer net trained for a few steps through an installed graphgrad:
// 64 points in 4 classes (which quadrant a 2-D point lies in), Dense(16) + ReLU
// + Dense(4), SGD with momentum, on the CPU backend. Prints the loss; exits non-zero unless
// it fell by half.
#include <cstdio>
#include <random>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/ops.h>
#include <graphgrad/ops/optimizers.h>

int main() {
  using namespace gg;
  Graph g(/*seed=*/7);
  const NodeId x = g.placeholder("x", Shape{kBatch, 2});
  const NodeId y = g.placeholder("labels", Shape{kBatch}, DType::i32);
  const NodeId w1 = g.parameter("w1", Shape{2, 16}, Init::glorot_uniform(2, 16));
  const NodeId b1 = g.parameter("b1", Shape{16}, Init::zeros());
  const NodeId w2 = g.parameter("w2", Shape{16, 4}, Init::glorot_uniform(16, 4));
  const NodeId b2 = g.parameter("b2", Shape{4}, Init::zeros());
  const NodeId hidden = ops::relu(g, ops::dense(g, x, w1, b1));
  const NodeId loss = ops::softmax_cross_entropy(g, ops::dense(g, hidden, w2, b2), y, "loss");
  const std::vector<NodeId> params{w1, b1, w2, b2};
  std::vector<NodeId> targets = ops::sgd(g, params, grad(g, loss, params), {.lr = 0.1, .momentum = 0.9});
  targets.insert(targets.begin(), loss);

  auto backend = make_backend("cpu", g);
  auto step = backend->compile(targets, /*max_batch=*/64);

  std::mt19937 rng(1);
  std::uniform_real_distribution<float> coord(-1, 1);
  std::vector<float> xs;
  std::vector<int32_t> ys;
  for (int i = 0; i < 64; ++i) {
    const float a = coord(rng), b = coord(rng);
    xs.insert(xs.end(), {a, b});
    ys.push_back((a > 0 ? 1 : 0) + (b > 0 ? 2 : 0));
  }
  const Feed feeds[] = {{x, Shape{64, 2}, DType::f32, xs.data()}, {y, Shape{64}, DType::i32, ys.data()}};

  float first = 0, last = 0;
  for (int i = 0; i < 100; ++i) {
    step->run(feeds);
    step->fetch(loss, {&last, 1});
    if (i == 0) first = last;
    if (i % 20 == 0 || i == 99) std::printf("step %3d  loss %.4f\n", i, last);
  }
  std::printf("loss: %.4f -> %.4f\n", first, last);
  return last <= first / 2 ? 0 : 1;
}
