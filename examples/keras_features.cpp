// The Keras-style builder beyond the tutorial, as the README shows it: batch
// normalization, average pooling, AdamW with a cosine schedule and
// warm-up, early stopping on a validation split, augmentation, then
// save / load_model. Trains on the first 3,000 MNIST digits and exits
// non-zero unless the test accuracy beats min_accuracy and the reloaded
// model predicts exactly as the trained one.
//   keras_features MNIST_DIR [cpu|vulkan] [min_accuracy=0.9]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <graphgrad/frontends/idx.h>
#include <graphgrad/frontends/sequential.h>

int main(int argc, char** argv) {
  using namespace gg;
  if (argc < 2) {
    std::fprintf(stderr, "usage: keras_features MNIST_DIR [cpu|vulkan] [min_accuracy]\n");
    return 2;
  }
  const std::string backend = argc > 2 ? argv[2] : "cpu";
  const double min_accuracy = argc > 3 ? std::atof(argv[3]) : 0.9;
  const Dataset train = to_dataset(data::load_mnist(argv[1], "train", 3000));
  const Dataset test = to_dataset(data::load_mnist(argv[1], "test", 1000));

  Sequential m(Shape{1, 28, 28});
  m.add(Conv2D{.filters = 16, .kernel_size = {3, 3}, .padding = PaddingMode::same, .use_bias = false});
  m.add(BatchNormalization{.momentum = 0.9});  // a short run: moving statistics that settle fast
  m.add(Activation("relu"));
  m.add(MaxPooling2D{{2, 2}});
  m.add(Conv2D{.filters = 32, .kernel_size = {3, 3}, .use_bias = false});
  m.add(BatchNormalization{.momentum = 0.9});  // a short run: moving statistics that settle fast
  m.add(Activation("relu"));
  m.add(AveragePooling2D{{2, 2}});
  m.add(Flatten{});
  m.add(Dense{.units = 10, .activation = ActivationKind::softmax});
  const int64_t steps_per_epoch = (2700 + 63) / 64;  // 90% of 3,000 train, batch 64
  m.compile({.loss = "sparse_categorical_crossentropy", .optimizer = AdamW{.lr = 3e-3}, .backend = backend,
             .lr_schedule = CosineDecay{.initial_learning_rate = 3e-4, .decay_steps = 5 * steps_per_epoch,
                                        .warmup_steps = steps_per_epoch, .warmup_target = 3e-3}});
  auto history = m.fit(train, {.batch_size = 64, .epochs = 6, .verbose = 0,
                               .callbacks = {std::make_shared<EarlyStopping>(EarlyStopping::Options{
                                   .monitor = "val_loss", .patience = 2, .restore_best_weights = true})},
                               .validation_split = 0.1,
                               .augment = Augmentation{.height_shift = {-0.1, 0.1}, .width_shift = {-0.1, 0.1},
                                                       .rotation = {-10, 10}, .zoom = {-0.1, 0.1}}});
  for (const EpochStats& s : history)
    std::printf("epoch %d: loss %.4f, val_loss %.4f, val_accuracy %.4f, learning_rate %.5f\n", s.epoch, s.loss, s.val_loss,
                s.val_accuracy, s.learning_rate);
  const Evaluation e = m.evaluate(test);
  std::printf("test accuracy %.4f on %lld images (%s)\n", e.accuracy, static_cast<long long>(test.size()), backend.c_str());

  const auto path = std::filesystem::temp_directory_path() / ("keras_features_" + backend + ".ggckpt");
  m.save(path);
  auto again = load_model(path, {.backend = backend});
  std::filesystem::remove(path);
  const bool same = again->predict(test) == m.predict(test);
  std::printf("load_model: %s\n", same ? "predicts exactly as the trained model" : "DIFFERS");
  return e.accuracy >= min_accuracy && same ? 0 : 1;
}
