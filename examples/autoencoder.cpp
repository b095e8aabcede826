// A dense autoencoder with the graph API: MNIST digits (784 pixels in [0,1])
// through 784 -> 64 (relu) -> 784 (sigmoid), trained with Adam on the mean
// squared reconstruction error. Runs on the backend named on the command line
// and exits non-zero unless the test images' loss ends under max_loss.
//   autoencoder MNIST_DIR [cpu|vulkan] [steps=300] [max_loss=0.03]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/frontends/idx.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/ops.h>
#include <graphgrad/ops/optimizers.h>

namespace {
std::vector<float> scaled(const gg::data::MnistSplit& s) {
  std::vector<float> v(s.images.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(s.images[i]) / 255.0f;
  return v;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace gg;
  if (argc < 2) {
    std::fprintf(stderr, "usage: autoencoder MNIST_DIR [cpu|vulkan] [steps] [max_loss]\n");
    return 2;
  }
  const std::string backend_name = argc > 2 ? argv[2] : "cpu";
  const int steps = argc > 3 ? std::atoi(argv[3]) : 300;
  const double max_loss = argc > 4 ? std::atof(argv[4]) : 0.03;
  constexpr int64_t kBatchSize = 64, kPixels = 784, kCode = 64;

  Graph g(/*seed=*/3);
  const NodeId x = g.placeholder("x", Shape{kBatch, kPixels});
  const NodeId step = g.placeholder("step", Shape{1}, DType::i32);
  const NodeId w1 = g.parameter("encoder/kernel", Shape{kPixels, kCode}, Init::glorot_uniform(kPixels, kCode));
  const NodeId b1 = g.parameter("encoder/bias", Shape{kCode}, Init::zeros());
  const NodeId w2 = g.parameter("decoder/kernel", Shape{kCode, kPixels}, Init::glorot_uniform(kCode, kPixels));
  const NodeId b2 = g.parameter("decoder/bias", Shape{kPixels}, Init::zeros());
  const NodeId code = ops::relu(g, ops::dense(g, x, w1, b1), "code");
  const NodeId reconstruction = ops::sigmoid(g, ops::dense(g, code, w2, b2), "reconstruction");
  const NodeId loss = ops::mse(g, reconstruction, x, "loss");
  const std::vector<NodeId> params{w1, b1, w2, b2};
  std::vector<NodeId> targets = ops::adam(g, params, grad(g, loss, params), step, {.lr = 2e-3});
  targets.insert(targets.begin(), loss);

  const data::MnistSplit train_split = data::load_mnist(argv[1], "train", size_t(kBatchSize) * 64);
  const data::MnistSplit test_split = data::load_mnist(argv[1], "test", 1000);
  const std::vector<float> train_x = scaled(train_split), test_x = scaled(test_split);
  const int64_t batches = int64_t(train_split.count) / kBatchSize;

  auto backend = make_backend(backend_name, g);
  auto train = backend->compile(targets, kBatchSize);
  auto evaluate = backend->compile({loss}, int64_t(test_split.count));
  auto test_loss = [&] {
    const Feed f[] = {{x, Shape{int64_t(test_split.count), kPixels}, DType::f32, test_x.data()}};
    evaluate->run(f);
    float l = 0;
    evaluate->fetch(loss, {&l, 1});
    return l;
  };
  const float before = test_loss();
  for (int32_t k = 0; k < steps; ++k) {
    const Feed f[] = {{x, Shape{kBatchSize, kPixels}, DType::f32, train_x.data() + (k % batches) * kBatchSize * kPixels},
                      {step, Shape{1}, DType::i32, &k}};
    train->run(f);
  }
  const float after = test_loss();
  std::printf("autoencoder 784-64-784 on %s: test MSE %.4f -> %.4f after %d steps of %lld\n", backend->name().c_str(), before,
              after, steps, static_cast<long long>(kBatchSize));
  return after < max_loss ? 0 : 1;
}
