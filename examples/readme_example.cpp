// Softmax regression with the graph API: build the graph, derive its
// gradients, append SGD updates, and run it on the CPU backend.
#include <cstdio>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/ops.h>
#include <graphgrad/ops/optimizers.h>

int main() {
  using namespace gg;
  Graph g(/*seed=*/42);
  NodeId x = g.placeholder("x", Shape{kBatch, 4});
  NodeId y = g.placeholder("labels", Shape{kBatch}, DType::i32);
  NodeId w = g.parameter("w", Shape{4, 3}, Init::glorot_uniform(4, 3));
  NodeId b = g.parameter("b", Shape{3}, Init::zeros());
  NodeId loss = ops::softmax_cross_entropy(g, ops::dense(g, x, w, b), y, "loss");
  std::vector<NodeId> updates = ops::sgd(g, {w, b}, grad(g, loss, {w, b}), {.lr = 0.1, .momentum = 0.9});

  auto backend = make_backend("cpu", g);
  std::vector<NodeId> targets{loss};
  targets.insert(targets.end(), updates.begin(), updates.end());
  auto train_step = backend->compile(targets, /*max_batch=*/8);

  // 8 points in 3 linearly separable classes: the class is the largest of the first three features.
  const float xs[8][4] = {{1, 0, 0, 1}, {2, 0, 1, 0}, {0, 1, 0, 1}, {0, 2, 1, 0},
                          {0, 0, 1, 1}, {1, 0, 2, 0}, {0.5, 2, 0, 1}, {1, 1, 3, 0}};
  const int32_t ys[8] = {0, 0, 1, 1, 2, 2, 1, 2};
  const Feed feeds[] = {{x, Shape{8, 4}, DType::f32, xs}, {y, Shape{8}, DType::i32, ys}};

  float first = 0, last = 0;
  for (int step = 0; step < 50; ++step) {
    train_step->run(feeds);  // computes the loss, then updates w and b
    train_step->fetch(loss, {&last, 1});
    if (step == 0) first = last;
  }
  std::printf("loss: %.4f -> %.4f\n", first, last);
  return last <= first / 2 ? 0 : 1;
}
