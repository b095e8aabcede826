#include "mnist_model.h"

namespace gg {

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

}  // namespace gg
