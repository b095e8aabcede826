#include "mnist_model.h"

#include <array>

namespace gg {
namespace {
constexpr std::array<std::string_view, static_cast<size_t>(ZooModel::count_)> kNames = {"keras-cnn", "lenet5", "bn-cnn", "mlp"};
constexpr auto relu = ActivationKind::relu;
constexpr auto tanh_ = ActivationKind::tanh;
}  // namespace

std::string_view zoo_name(ZooModel m) { return kNames.at(static_cast<size_t>(m)); }

ZooModel zoo_from_name(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<ZooModel>(i);
  throw GraphError("unknown model '" + std::string(name) + "' (known: keras-cnn, lenet5, bn-cnn, mlp)");
}

std::unique_ptr<Sequential> make_mnist_cnn(uint64_t seed, Shape input) {
  const int n_filters = 32, n_conv = 3, n_pool = 2, n_classes = 10;
  auto model = std::make_unique<Sequential>(std::move(input), seed);
  model->add(Conv2D{n_filters, {n_conv, n_conv}});
  model->add(Activation{"relu"});
  model->add(Conv2D{n_filters, {n_conv, n_conv}});
  model->add(Activation{"relu"});
  model->add(MaxPooling2D{{n_pool, n_pool}});
  model->add(Dropout{0.25});
  model->add(Flatten{});
  model->add(Dense{128});
  model->add(Activation{"relu"});
  model->add(Dropout{0.5});
  model->add(Dense{n_classes});
  model->add(Activation{"softmax"});
  return model;
}

std::unique_ptr<Sequential> make_model(ZooModel m, uint64_t seed, Shape input, int classes) {
  if (m == ZooModel::keras_cnn && classes == 10) return make_mnist_cnn(seed, std::move(input));
  auto model = std::make_unique<Sequential>(std::move(input), seed);
  Sequential& s = *model;
  switch (m) {
    case ZooModel::keras_cnn:
      s.add(Conv2D{.filters = 32, .kernel_size = {3, 3}, .activation = relu});
      s.add(Conv2D{.filters = 32, .kernel_size = {3, 3}, .activation = relu});
      s.add(MaxPooling2D{{2, 2}});
      s.add(Dropout{0.25});
      s.add(Flatten{});
      s.add(Dense{.units = 128, .activation = relu});
      s.add(Dropout{0.5});
      break;
    case ZooModel::lenet5:
      // C1 6@5x5 (padded: the paper's 32x32 input is MNIST's 28x28 plus a
      // 2-pixel border), S2 average 2x2, C3 16@5x5, S4 average 2x2, C5 120,
      // F6 84, all tanh. (The paper's S-layers had trainable coefficients and
      // C3 a partial connection table; as usual today, plain ones here.)
      s.add(Conv2D{.filters = 6, .kernel_size = {5, 5}, .padding = PaddingMode::same, .activation = tanh_});
      s.add(AveragePooling2D{{2, 2}});
      s.add(Conv2D{.filters = 16, .kernel_size = {5, 5}, .activation = tanh_});
      s.add(AveragePooling2D{{2, 2}});
      s.add(Flatten{});
      s.add(Dense{.units = 120, .activation = tanh_});
      s.add(Dense{.units = 84, .activation = tanh_});
      break;
    case ZooModel::bn_cnn:
      // Each conv without bias (batch norm's beta takes its place), then batch norm, then relu.
      for (int filters : {32, 64}) {
        for (int k = 0; k < 2; ++k) {
          s.add(Conv2D{.filters = filters, .kernel_size = {3, 3}, .padding = PaddingMode::same, .use_bias = false});
          s.add(BatchNormalization{});
          s.add(Activation{relu});
        }
        s.add(MaxPooling2D{{2, 2}});
        s.add(Dropout{0.25});
      }
      s.add(Flatten{});
      s.add(Dense{.units = 256, .use_bias = false});
      s.add(BatchNormalization{});
      s.add(Activation{relu});
      s.add(Dropout{0.4});
      break;
    case ZooModel::mlp:
      s.add(Flatten{});
      s.add(Dense{.units = 512, .activation = relu});
      s.add(Dropout{0.2});
      s.add(Dense{.units = 512, .activation = relu});
      s.add(Dropout{0.2});
      break;
    case ZooModel::count_: throw GraphError("make_model: model out of range");
  }
  s.add(Dense{classes});
  s.add(Activation{ActivationKind::softmax});
  return model;
}

}  // namespace gg
