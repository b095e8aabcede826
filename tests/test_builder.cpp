// The Sequential builder: every way a model can be put together wrongly fails
// early with a message naming the layer (or the option) at fault; summary()
// matches Keras's parameter count for the tutorial CNN; predict() gives
// probabilities.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/frontends/dataset.h>
#include <graphgrad/frontends/layers.h>
#include <graphgrad/frontends/mnist_model.h>
#include <graphgrad/frontends/sequential.h>

#include "test_util.h"

using namespace gg;
using gg::test::contains;
using gg::test::error_of;

namespace {




Dataset make_data(Shape item, int64_t n, int classes, uint64_t seed) {
  Dataset d;
  d.item_shape = item;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  d.x.resize(static_cast<size_t>(n * item.numel()));
  for (auto& v : d.x) v = u(rng);
  for (int64_t i = 0; i < n; ++i) d.y.push_back(static_cast<int32_t>(rng() % uint64_t(classes)));
  return d;
}

// A small complete model on [1,8,8] inputs.
void add_small_layers(Sequential& m, int classes = 3) {
  m.add(Conv2D{4, {3, 3}});
  m.add(Activation{"relu"});
  m.add(MaxPooling2D{{2, 2}});
  m.add(Flatten{});
  m.add(Dense{16});
  m.add(Activation{"relu"});
  m.add(Dense{classes});
  m.add(Activation{"softmax"});
}

}  // namespace

TEST_SUITE("builder") {

TEST_CASE("Dense straight after Conv2D names the layer and suggests Flatten") {
  Sequential m(Shape{1, 28, 28});
  m.add(Conv2D{4, {3, 3}});
  const std::string msg = error_of<GraphError>([&] { m.add(Dense{10}); });
  CHECK_MSG(msg, "\"dense_1\"");
  CHECK_MSG(msg, "Flatten");
  CHECK_MSG(msg, "\"conv2d_1\"");   // where the input came from
  CHECK_MSG(msg, "[N,4,26,26]");   // and what it gives
  // The model is still usable: Flatten first and the same layer fits.
  m.add(Flatten{});
  m.add(Dense{10, "logits"});
  CHECK(m.graph().node(m.graph().at("logits")).shape == Shape{kBatch, 10});
}

TEST_CASE("a Conv2D kernel larger than its input") {
  Sequential m(Shape{1, 5, 5});
  const std::string msg = error_of<GraphError>([&] { m.add(Conv2D{2, {7, 7}, 1, PaddingMode::valid, "big_conv"}); });
  CHECK_MSG(msg, "\"big_conv\"");
  CHECK_MSG(msg, "7x7");
  CHECK_MSG(msg, "[N,1,5,5]");
  CHECK(m.graph().find("big_conv/kernel") == kNoNode);  // nothing half-built
  // With 'same' padding it fits.
  m.add(Conv2D{2, {7, 7}, 1, PaddingMode::same, "same_conv"});
  CHECK(m.graph().node(m.graph().at("same_conv")).shape == Shape{kBatch, 2, 5, 5});
}

TEST_CASE("a MaxPooling2D window larger than its input") {
  Sequential m(Shape{1, 6, 6});
  m.add(Conv2D{2, {3, 3}});  // -> [N,2,4,4]
  const std::string msg = error_of<GraphError>([&] { m.add(MaxPooling2D{{5, 5}}); });
  CHECK_MSG(msg, "\"max_pooling2d_1\"");
  CHECK_MSG(msg, "5x5");
  CHECK_MSG(msg, "[N,2,4,4]");
  CHECK_MSG(error_of<GraphError>([&] { m.add(MaxPooling2D{{2, 3}, 0, "rect"}); }), "square");
}

TEST_CASE("other malformed layers") {
  Sequential m(Shape{1, 8, 8});
  // An unknown activation fails where it is spelled, listing the known ones.
  std::string msg = error_of<GraphError>([&] { m.add(Activation{"tanhh", "act_x"}); });
  CHECK_MSG(msg, "'tanhh'");
  CHECK_MSG(msg, "relu, sigmoid, tanh, softmax");
  Activation bad_alpha(ActivationKind::elu, "bad_alpha");
  bad_alpha.alpha = -1;
  msg = error_of<GraphError>([&] { m.add(bad_alpha); });
  CHECK_MSG(msg, "\"bad_alpha\"");
  CHECK_MSG(msg, "alpha must be > 0");
  msg = error_of<GraphError>([&] { m.add(BatchNormalization{.momentum = 1.5, .name = "bn_x"}); });
  CHECK_MSG(msg, "\"bn_x\"");
  CHECK_MSG(msg, "momentum");
  CHECK_MSG(error_of<GraphError>([&] { m.add(GlobalAveragePooling2D{}); m.add(GlobalAveragePooling2D{"gap_2"}); }), "\"gap_2\"");
  CHECK_MSG(error_of<GraphError>([&] { m.add(Dropout{1.0, "drop_all"}); }), "\"drop_all\"");
  CHECK_MSG(error_of<GraphError>([&] { m.add(Conv2D{0, {3, 3}, 1, PaddingMode::valid, "no_filters"}); }), "\"no_filters\"");
  // A layer may not take a name the graph already uses.
  msg = error_of<GraphError>([&] { m.add(Flatten{"x"}); });
  CHECK_MSG(msg, "\"x\"");
  CHECK_MSG(msg, "already used");
}

TEST_CASE("compile() checks the loss, the final activation and the backend") {
  SUBCASE("from_logits after a softmax") {
    Sequential m(Shape{1, 8, 8});
    add_small_layers(m);
    const std::string msg = error_of<GraphError>([&] { m.compile({.loss = Loss(LossKind::categorical_crossentropy, true)}); });
    CHECK_MSG(msg, "from_logits");
    CHECK_MSG(msg, "softmax");
  }
  SUBCASE("a categorical loss on an image output") {
    Sequential m(Shape{1, 8, 8});
    m.add(Conv2D{2, {3, 3}});
    const std::string msg = error_of<GraphError>([&] { m.compile(); });
    CHECK_MSG(msg, "categorical_crossentropy needs a model output [N,classes]");
    CHECK_MSG(msg, "[N,2,6,6]");
  }
  SUBCASE("a loss that reaches no parameter") {
    Sequential m(Shape{10, 1, 1});
    m.add(Flatten{});
    m.add(Activation{"softmax"});
    const std::string msg = error_of<GraphError>([&] { m.compile(); });
    CHECK_MSG(msg, "reaches no trainable parameter");
  }
  SUBCASE("an empty model") {
    Sequential m(Shape{4, 1, 1});
    CHECK_MSG(error_of<GraphError>([&] { m.compile(); }), "no layers");
  }
  SUBCASE("unknown loss") {
    Sequential m(Shape{1, 8, 8});
    add_small_layers(m);
    const std::string msg = error_of<GraphError>([&] { m.compile({.loss = "msee"}); });
    CHECK_MSG(msg, "'msee'");
    CHECK_MSG(msg, "sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy, mse, mae");
  }
  SUBCASE("vulkan: not built, or a device that does not exist") {
    Sequential m(Shape{1, 8, 8});
    add_small_layers(m);
    const std::vector<std::string> names = backend_names();
    const bool built = std::count(names.begin(), names.end(), "vulkan") == 1;
    CompileOptions co{.backend = "vulkan"};
    co.backend_options.device = "no-such-gpu";
    const std::string msg = error_of<BackendError>([&] { m.compile(co); });
    CHECK_MSG(msg, "vulkan");
    CHECK_MSG(msg, built ? "no-such-gpu" : "not built");
  }
  SUBCASE("an unknown backend lists the known ones") {
    Sequential m(Shape{1, 8, 8});
    add_small_layers(m);
    const std::string msg = error_of<BackendError>([&] { m.compile({.backend = "foo"}); });
    CHECK_MSG(msg, "'foo'");
    for (const std::string& known : backend_names()) CHECK_MSG(msg, known);
  }
  SUBCASE("the registry itself") {
    Graph g;
    const std::vector<std::string> names = backend_names();
    CHECK(std::count(names.begin(), names.end(), "cpu") == 1);
    CHECK(make_backend("cpu", g)->name() == "cpu");
    CHECK_MSG(error_of<BackendError>([&] { make_backend("foo", g); }), "cpu");
  }
  SUBCASE("compile once, before use; add nothing after") {
    Sequential m(Shape{1, 8, 8});
    add_small_layers(m);
    const Dataset d = make_data(Shape{1, 8, 8}, 4, 3, 1);
    CHECK_MSG(error_of<GraphError>([&] { m.fit(d, {.verbose = 0}); }), "compile()");
    CHECK_MSG(error_of<GraphError>([&] { m.evaluate(d); }), "compile()");
    m.compile({.backend_options = {1, {}}});
    CHECK_MSG(error_of<GraphError>([&] { m.compile(); }), "already compiled");
    CHECK_MSG(error_of<GraphError>([&] { m.add(Dense{2}); }), "already compiled");
  }
}

// Regression: compile() used to leave its loss, gradient and update nodes
// behind when make_backend() threw (an unknown backend, a missing device), so a retry failed with 'duplicate node name'.
TEST_CASE("compile() can be retried after an unknown backend") {
  Sequential m(Shape{1, 8, 8});
  add_small_layers(m);
  CHECK_THROWS_AS(m.compile({.backend = "no-such-backend"}), BackendError);
  CHECK_NOTHROW(m.compile({.backend_options = {1, {}}}));
}

// Regression: an unnamed layer must skip names the user took explicitly
// ("dense_1" taken -> the next unnamed Dense becomes "dense_2", as in Keras).
TEST_CASE("an unnamed layer skips a name already taken explicitly") {
  Sequential m(Shape{1, 8, 8});
  m.add(Flatten{});
  m.add(Dense{8, "dense_1"});
  CHECK_NOTHROW(m.add(Dense{3}));
}

TEST_CASE("fit() and evaluate() reject data of the wrong item shape") {
  Sequential m(Shape{1, 8, 8});
  add_small_layers(m);
  m.compile({.backend_options = {1, {}}});
  const Dataset wrong = make_data(Shape{1, 7, 9}, 4, 3, 2);
  std::string msg = error_of<GraphError>([&] { m.fit(wrong, {.epochs = 1, .verbose = 0}); });
  CHECK_MSG(msg, "fit()");
  CHECK_MSG(msg, "[1,7,9]");
  CHECK_MSG(msg, "[1,8,8]");
  msg = error_of<GraphError>([&] { m.evaluate(wrong); });
  CHECK_MSG(msg, "evaluate()");
  CHECK_MSG(msg, "[1,7,9]");
  const Dataset good = make_data(Shape{1, 8, 8}, 4, 3, 3);
  msg = error_of<GraphError>([&] { m.fit(good, {.epochs = 1, .validation = &wrong, .verbose = 0}); });
  CHECK_MSG(msg, "validation");
  // A data set whose values do not match its size.
  Dataset short_x = good;
  short_x.x.pop_back();
  CHECK_MSG(error_of<GraphError>([&] { m.evaluate(short_x); }), "values");
  Dataset both = good;
  both.pixels.assign(both.x.size(), 0);
  CHECK_MSG(error_of<GraphError>([&] { m.evaluate(both); }), "both");
  CHECK(m.step() == 0);  // nothing was trained
  // The good data goes through.
  const auto history = m.fit(good, {.batch_size = 2, .epochs = 1, .verbose = 0});
  REQUIRE(history.size() == 1);
  CHECK(history[0].images == 4);
  CHECK(m.step() == 2);
}

TEST_CASE("a dataset of 8-bit pixels trains, evaluates and predicts exactly like its f32 twin") {
  data::MnistSplit split;
  split.count = 12, split.rows = 8, split.cols = 8;
  std::mt19937_64 rng(11);
  for (size_t i = 0; i < split.count * 64; ++i) split.images.push_back(static_cast<uint8_t>(rng() % 256));
  for (size_t i = 0; i < split.count; ++i) split.labels.push_back(static_cast<uint8_t>(i % 3));
  const Dataset bytes = to_dataset(split);
  CHECK(bytes.x.empty());
  CHECK(bytes.pixels == split.images);  // a quarter of the memory of floats
  Dataset floats = bytes;
  floats.pixels.clear();
  for (uint8_t p : split.images) floats.x.push_back(static_cast<float>(p) / 255.0f);
  std::vector<float> row(64);
  bytes.copy_items(5, 1, row.data());
  CHECK(row == std::vector<float>(floats.x.begin() + 5 * 64, floats.x.begin() + 6 * 64));

  auto train = [](const Dataset& d) {
    auto m = std::make_unique<Sequential>(Shape{1, 8, 8}, 4);
    add_small_layers(*m);
    m->compile();
    const auto h = m->fit(d, {.batch_size = 5, .epochs = 2, .validation = &d, .verbose = 0});
    return std::tuple{h.back().loss, h.back().val_accuracy, m->evaluate(d, 4).loss, m->predict(d, 5)};
  };
  const auto [loss_b, acc_b, eval_b, probs_b] = train(bytes);
  const auto [loss_f, acc_f, eval_f, probs_f] = train(floats);
  CHECK(loss_b == loss_f);
  CHECK(acc_b == acc_f);
  CHECK(eval_b == eval_f);
  CHECK(probs_b == probs_f);
  CHECK(probs_b.size() == 12 * 3);
}

TEST_CASE("summary() of the tutorial CNN: layers, shapes and 600,810 parameters") {
  auto model = make_mnist_cnn(0);
  CHECK(model->parameter_count() == 600810);
  const std::string s = model->summary();
  INFO(s);
  CHECK_MSG(s, "Total params: 600810");
  for (const char* layer : {"conv2d_1 (Conv2D)", "conv2d_2 (Conv2D)", "activation_1 (Activation)", "max_pooling2d_1 (MaxPooling2D)",
                            "dropout_1 (Dropout)", "flatten_1 (Flatten)", "dense_1 (Dense)", "dropout_2 (Dropout)",
                            "dense_2 (Dense)", "activation_4 (Activation)"})
    CHECK_MSG(s, layer);
  for (const char* shape : {"[N,32,26,26]", "[N,32,24,24]", "[N,32,12,12]", "[N,4608]", "[N,128]", "[N,10]"})
    CHECK_MSG(s, shape);
  for (const char* count : {" 320\n", " 9248\n", " 589952\n", " 1290\n"}) CHECK_MSG(s, count);
  CHECK(model->classes() == 10);
  CHECK_MSG(model->architecture(), "dense_1:Dense(128)");
}

TEST_CASE("predict() gives one probability row per image, in any batching") {
  Sequential m(Shape{1, 8, 8}, 7);
  add_small_layers(m, 5);
  m.compile({.backend_options = {1, {}}});
  const Dataset d = make_data(Shape{1, 8, 8}, 7, 5, 4);
  const std::vector<float> p = m.predict(d.x.data(), 7, 3);  // batches of 3, 3, 1
  REQUIRE(p.size() == 7 * 5);
  for (int r = 0; r < 7; ++r) {
    CAPTURE(r);
    double sum = 0;
    for (int c = 0; c < 5; ++c) {
      const float v = p[size_t(r * 5 + c)];
      CHECK(v >= 0.0f);
      CHECK(v <= 1.0f);
      sum += v;
    }
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
  }
  // The same rows one batch at a time, and the rows differ between images.
  const std::vector<float> whole = m.predict(d.x.data(), 7, 128);
  for (size_t i = 0; i < p.size(); ++i) CHECK(whole[i] == doctest::Approx(p[i]).epsilon(1e-5));
  bool rows_differ = false;
  for (int c = 0; c < 5; ++c) rows_differ = rows_differ || p[size_t(c)] != p[size_t(5 + c)];
  CHECK(rows_differ);
  CHECK_MSG(error_of<GraphError>([&] { m.predict(d.x.data(), 0); }), "predict()");
}

}  // TEST_SUITE
