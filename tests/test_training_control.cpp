// Training control in Sequential: the learning rate fed at each step
// (schedules, set_learning_rate, LearningRateScheduler), the callbacks
// (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau), --resume continuing a
// schedule and a plateau exactly, validation_split and the history, and
// checkpoints of format 2: load_model, weights-only loads, another optimizer,
// format-1 files, and load errors that name what differs.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <graphgrad/frontends/checkpoint.h>
#include <graphgrad/frontends/sequential.h>

#include "test_util.h"

using namespace gg;
using gg::test::error_of;

namespace {

// y = w . x with w [3,1] and no bias, mse against t: one step of plain SGD
// moves w by -lr * 2 (w.x - t) x, so the rate a step used can be read back.
std::unique_ptr<Sequential> linear_model(const CompileOptions& co) {
  auto m = std::make_unique<Sequential>(Shape{3}, 1);
  m->add(Dense{.units = 1, .use_bias = false});
  m->compile(co);
  return m;
}

Dataset linear_data(int64_t n) {
  std::vector<float> x, t;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < n; ++i) {
    float y = 0;
    for (int k = 0; k < 3; ++k) x.push_back(u(rng)), y += x.back() * float(k + 1);
    t.push_back(y);
  }
  return Dataset::with_targets(Shape{3}, std::move(x), Shape{1}, std::move(t));
}

// The learning rate each of `steps` single-item steps used, recovered from the weights.
std::vector<double> rates_used(Sequential& m, const Dataset& d, int steps, const FitOptions& base = {}) {
  std::vector<double> out;
  for (int s = 0; s < steps; ++s) {
    const std::vector<float> w = m.get_weights()[0];
    const int64_t i = m.step() % d.size();
    double pred = 0;
    for (int k = 0; k < 3; ++k) pred += double(w[k]) * double(d.x[size_t(i * 3 + k)]);
    const double g0 = 2 * (pred - double(d.targets[size_t(i)])) * double(d.x[size_t(i * 3)]);
    FitOptions fo = base;
    fo.batch_size = 1, fo.epochs = 1, fo.shuffle = false, fo.verbose = 0;
    Dataset one = Dataset::with_targets(Shape{3}, std::vector<float>(d.x.begin() + i * 3, d.x.begin() + i * 3 + 3), Shape{1},
                                        {d.targets[size_t(i)]});
    m.fit(one, fo);
    out.push_back(-(double(m.get_weights()[0][0]) - double(w[0])) / g0);
  }
  return out;
}

std::unique_ptr<Sequential> small_cnn(uint64_t seed, Optimizer opt = Adam{}, int hidden = 16, bool batch_norm = false) {
  auto m = std::make_unique<Sequential>(Shape{1, 8, 8}, seed);
  m->add(Conv2D{.filters = 4, .kernel_size = {3, 3}, .use_bias = !batch_norm});
  if (batch_norm) m->add(BatchNormalization{});
  m->add(Activation{"relu"});
  m->add(MaxPooling2D{{2, 2}});
  m->add(Flatten{});
  m->add(Dense{.units = hidden, .activation = ActivationKind::relu});
  m->add(Dropout{0.25});
  m->add(Dense{5});
  m->add(Activation{"softmax"});
  m->compile({.loss = LossKind::sparse_categorical_crossentropy, .optimizer = opt, .backend_options = {1, {}}});
  return m;
}

Dataset cnn_data(int64_t n, uint64_t seed) {
  std::vector<float> x;
  std::vector<int32_t> y;
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::uniform_real_distribution<float> u(0, 1);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = static_cast<int32_t>(i % 5);
    for (int k = 0; k < 64; ++k) x.push_back(u(rng) * 0.5f + (k % 5 == label ? 0.5f : 0.0f));
    y.push_back(label);
  }
  return Dataset::with_class_ids(Shape{1, 8, 8}, std::move(x), std::move(y), 5);
}

bool same_weights(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0) return false;
  return true;
}

struct TempDir : gg::test::TempDir {
  TempDir() : gg::test::TempDir("gg_training_test_") {}
};

}  // namespace

TEST_SUITE("training_control") {
  TEST_CASE("the learning rate takes the schedule's value at each step") {
    const Dataset d = linear_data(8);
    auto m = linear_model({.loss = LossKind::mse, .optimizer = SGD{.lr = 0.1}, .backend_options = {1, {}}, .metrics = {},
                           .lr_schedule = StepDecay{.initial_learning_rate = 0.1, .every = 2, .factor = 0.5}});
    const std::vector<double> used = rates_used(*m, d, 6);
    const double want[] = {0.1, 0.1, 0.05, 0.05, 0.025, 0.025};
    for (int s = 0; s < 6; ++s) {
      INFO("step " << s);
      CHECK(used[size_t(s)] == doctest::Approx(want[s]).epsilon(1e-4));
    }
    CHECK_MSG(error_of<GraphError>([&] { m->set_learning_rate(0.5); }), "follows the schedule step(initial=0.1");
  }

  TEST_CASE("set_learning_rate changes the next step's rate; a cosine warm-up follows Keras's formula") {
    const Dataset d = linear_data(8);
    auto m = linear_model({.loss = LossKind::mse, .optimizer = SGD{.lr = 0.1}, .backend_options = {1, {}}, .metrics = {}});
    CHECK(rates_used(*m, d, 1)[0] == doctest::Approx(0.1).epsilon(1e-5));
    m->set_learning_rate(0.03);
    CHECK(m->learning_rate() == 0.03);
    CHECK(rates_used(*m, d, 2)[1] == doctest::Approx(0.03).epsilon(1e-4));
    CHECK_MSG(error_of<GraphError>([&] { m->set_learning_rate(-1); }), "must be > 0");

    const CosineDecay c{.initial_learning_rate = 0.0, .decay_steps = 10, .alpha = 0.1, .warmup_steps = 4, .warmup_target = 0.2};
    CHECK(learning_rate_at(c, 0) == 0.0);
    CHECK(learning_rate_at(c, 2) == doctest::Approx(0.1));
    CHECK(learning_rate_at(c, 4) == doctest::Approx(0.2));
    CHECK(learning_rate_at(c, 9) == doctest::Approx(0.2 * (0.9 * 0.5 * (1 + std::cos(M_PI * 0.5)) + 0.1)));
    CHECK(learning_rate_at(c, 100) == doctest::Approx(0.02));
    const ExponentialDecay e{.initial_learning_rate = 1.0, .decay_steps = 10, .decay_rate = 0.5, .staircase = true};
    CHECK(learning_rate_at(e, 19) == 0.5);
    CHECK(learning_rate_at(ExponentialDecay{1.0, 10, 0.5, false}, 5) == doctest::Approx(std::sqrt(0.5)));
    CHECK_MSG(error_of<GraphError>([] { parse_schedule("step:factor=0.5", 1e-3, 100); }), "needs every");
    CHECK_MSG(error_of<GraphError>([] { parse_schedule("cosine:decay_steps=5e,bogus=1", 1e-3, 100); }), "unknown option 'bogus'");
    const auto parsed = parse_schedule("cosine:decay_steps=5e,warmup_steps=1e,warmup_target=0.002", 1e-3, 100);
    CHECK(std::get<CosineDecay>(parsed).decay_steps == 500);
    CHECK(std::get<CosineDecay>(parsed).warmup_steps == 100);
  }

  TEST_CASE("LearningRateScheduler sets the rate before each epoch") {
    const Dataset d = linear_data(2);
    auto m = linear_model({.loss = LossKind::mse, .optimizer = SGD{.lr = 0.1}, .backend_options = {1, {}}, .metrics = {}});
    std::vector<double> seen;
    auto sched = std::make_shared<LearningRateScheduler>([](int epoch, double lr) { return epoch == 0 ? lr : lr * 0.5; });
    FitOptions fo{.batch_size = 2, .epochs = 3, .shuffle = false, .verbose = 0};
    fo.callbacks = {sched};
    const auto h = m->fit(d, fo);
    REQUIRE(h.size() == 3);
    CHECK(h[0].learning_rate == doctest::Approx(0.1));
    CHECK(h[1].learning_rate == doctest::Approx(0.05));
    CHECK(h[2].learning_rate == doctest::Approx(0.025));
    CHECK(h[2].get("learning_rate") == doctest::Approx(0.025));
  }

  TEST_CASE("EarlyStopping stops after its patience and restores the best epoch's weights") {
    const Dataset d = cnn_data(40, 1);
    auto m = small_cnn(3);
    std::vector<std::vector<std::vector<float>>> after_epoch;
    // A constant learning rate never improves on epoch 1's: epoch 1 stays the best.
    auto stop = std::make_shared<EarlyStopping>(
        EarlyStopping::Options{.monitor = "learning_rate", .patience = 2, .mode = MonitorMode::min, .restore_best_weights = true});
    FitOptions fo{.batch_size = 8, .epochs = 10, .verbose = 0};
    fo.on_epoch_end = [&](const EpochStats&) { after_epoch.push_back(m->get_weights()); };
    fo.callbacks = {stop};
    const auto h = m->fit(d, fo);
    CHECK(h.size() == 3);  // epoch 1 best, epochs 2 and 3 without improvement
    CHECK(stop->stopped_epoch() == 3);
    CHECK(stop->best_epoch() == 1);
    CHECK(same_weights(m->get_weights(), after_epoch[0]));
    CHECK_FALSE(same_weights(m->get_weights(), after_epoch[2]));
    // A monitor the fit does not log is named, with what there is.
    auto bad = std::make_shared<EarlyStopping>(EarlyStopping::Options{.monitor = "val_loss"});
    fo.callbacks = {bad};
    fo.on_epoch_end = {};
    CHECK_MSG(error_of<GraphError>([&] { m->fit(d, fo); }), "no logged value 'val_loss' (this fit logs: loss, accuracy");
  }

  TEST_CASE("ModelCheckpoint with save_best_only saves on improvement only") {
    TempDir dir;
    const Dataset d = cnn_data(40, 2);
    auto m = small_cnn(4);
    auto ckpt = std::make_shared<ModelCheckpoint>(ModelCheckpoint::Options{.path = dir / "best.ggckpt", .monitor = "loss", .save_best_only = true});
    FitOptions fo{.batch_size = 8, .epochs = 4, .verbose = 0};
    fo.callbacks = {ckpt};
    int improvements = 0;
    double best = 1e30;
    fo.on_epoch_end = [&](const EpochStats& s) {
      if (s.loss < best) best = s.loss, ++improvements;
    };
    m->fit(d, fo);
    CHECK(ckpt->saves() == improvements);
    CHECK(std::filesystem::exists(dir / "best.ggckpt"));
  }

  TEST_CASE("ReduceLROnPlateau lowers the rate after its patience") {
    const Dataset d = cnn_data(40, 3);
    auto m = small_cnn(5);
    // Watching the rate itself as a maximum: epoch 1's is the best, so each later epoch halves it.
    auto plateau = std::make_shared<ReduceLROnPlateau>(
        ReduceLROnPlateau::Options{.monitor = "learning_rate", .factor = 0.5, .patience = 1, .mode = MonitorMode::max});
    FitOptions fo{.batch_size = 8, .epochs = 4, .verbose = 0};
    fo.callbacks = {plateau};
    const auto h = m->fit(d, fo);
    CHECK(h[0].learning_rate == doctest::Approx(1e-3));
    CHECK(h[1].learning_rate == doctest::Approx(1e-3));
    CHECK(h[2].learning_rate == doctest::Approx(5e-4));
    CHECK(h[3].learning_rate == doctest::Approx(2.5e-4));
    CHECK(m->learning_rate() == doctest::Approx(1.25e-4));
  }

  TEST_CASE("resuming from a checkpoint continues the schedule and the plateau's state bit for bit") {
    TempDir dir;
    const Dataset d = cnn_data(40, 4);
    for (const bool plateau : {false, true}) {
      CAPTURE(plateau);
      CompileOptions co{.loss = LossKind::sparse_categorical_crossentropy, .backend_options = {1, {}}};
      if (!plateau) co.lr_schedule = ExponentialDecay{.initial_learning_rate = 2e-3, .decay_steps = 3, .decay_rate = 0.7};
      auto run = [&](int epochs, const std::string& load, const std::string& save) {
        auto m = std::make_unique<Sequential>(Shape{1, 8, 8}, 9);
        m->add(Conv2D{4, {3, 3}});
        m->add(Activation{"relu"});
        m->add(Flatten{});
        m->add(Dropout{0.2});
        m->add(Dense{5});
        m->add(Activation{"softmax"});
        m->compile(co);
        if (!load.empty()) m->load(load);
        FitOptions fo{.batch_size = 8, .epochs = epochs, .verbose = 0};
        // Watching the rate itself as a maximum: it halves every other epoch from epoch 2 on.
        if (plateau)
          fo.callbacks = {std::make_shared<ReduceLROnPlateau>(
              ReduceLROnPlateau::Options{.monitor = "learning_rate", .factor = 0.5, .patience = 2, .mode = MonitorMode::max})};
        std::vector<double> rates;
        fo.on_epoch_end = [&](const EpochStats& s) {
          rates.push_back(s.learning_rate);
          if (!save.empty()) m->save(save);
        };
        m->fit(d, fo);
        return std::pair{m->get_weights(), rates};
      };
      const auto [whole, whole_rates] = run(5, "", "");
      const std::string path = (dir / "half.ggckpt").string();
      run(2, "", path);
      const auto [resumed, resumed_rates] = run(3, path, "");
      CHECK(same_weights(whole, resumed));
      REQUIRE(resumed_rates.size() == 3);
      for (size_t e = 0; e < 3; ++e) CHECK(resumed_rates[e] == whole_rates[e + 2]);
      if (plateau) CHECK(whole_rates[4] < whole_rates[1]);
    }
  }

  TEST_CASE("a checkpoint written mid-epoch resumes at the next step, bit for bit") {
    // 40 items in batches of 8: 5 steps an epoch. Dropout (keyed by step and sample), augmentation
    // (by epoch and sample), the shuffle (by epoch) and a LearningRateScheduler that halves the rate
    // at every epoch's start: a resumed epoch must neither replay it nor lose it.
    TempDir dir;
    const Dataset d = cnn_data(40, 7);
    auto run = [&](int epochs, const std::string& load, const std::string& save, int64_t save_at_step) {
      auto m = std::make_unique<Sequential>(Shape{1, 8, 8}, 11);
      m->add(Conv2D{4, {3, 3}});
      m->add(Activation{"relu"});
      m->add(Flatten{});
      m->add(Dropout{0.3});
      m->add(Dense{5});
      m->add(Activation{"softmax"});
      m->compile({.loss = LossKind::sparse_categorical_crossentropy, .backend_options = {1, {}}});
      if (!load.empty()) m->load(load);
      FitOptions fo{.batch_size = 8, .epochs = epochs, .verbose = 0};
      fo.augment = Augmentation{.height_shift = {-0.2, 0.2}, .width_shift = {-0.2, 0.2}, .rotation = {-15, 15}};
      fo.callbacks = {std::make_shared<LearningRateScheduler>([](int, double lr) { return lr * 0.5; })};
      fo.on_step_end = [&](int, int64_t) {
        if (m->step() == save_at_step) m->save(save);
      };
      const auto history = m->fit(d, fo);
      return std::tuple{m->get_weights(), history, m->step()};
    };
    const auto [whole, whole_history, whole_steps] = run(4, "", "", -1);
    const std::string path = (dir / "mid.ggckpt").string();
    for (const int64_t at : {3, 7, 14}) {  // epoch 1 step 3, epoch 2 step 2, epoch 3 step 4
      CAPTURE(at);
      run(4, "", path, at);
      REQUIRE(ckpt::load(path).step == static_cast<uint64_t>(at));
      const int epochs_left = 4 - static_cast<int>(at / 5);  // the resumed epoch counts as one
      const auto [resumed, history, steps] = run(epochs_left, path, "", -1);
      CHECK(steps == whole_steps);
      CHECK(same_weights(whole, resumed));
      REQUIRE(history.size() == static_cast<size_t>(epochs_left));
      CHECK(history[0].epoch == at / 5 + 1);
      CHECK(history[0].images == 40 - (at % 5) * 8);  // the resumed epoch's stats cover the steps run
      CHECK(history.back().learning_rate == whole_history.back().learning_rate);
    }
  }

  TEST_CASE("validation_split takes the last items, and the history logs Keras's names") {
    const Dataset d = cnn_data(40, 5);
    auto m = small_cnn(6);
    const auto h = m->fit(d, {.batch_size = 8, .epochs = 2, .verbose = 0, .validation_split = 0.25});
    REQUIRE(h.size() == 2);
    CHECK(h[0].images == 30);
    std::vector<std::string> names;
    for (const auto& [k, v] : h[1].values) names.push_back(k);
    CHECK(names == std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"});
    const Dataset tail = Dataset::with_class_ids(Shape{1, 8, 8}, std::vector<float>(d.x.begin() + 30 * 64, d.x.end()),
                                                 std::vector<int32_t>(d.y.begin() + 30, d.y.end()), 5);
    const Evaluation ev = m->evaluate(tail, 8);
    CHECK(h[1].val_loss == doctest::Approx(ev.loss).epsilon(1e-6));
    CHECK(h[1].get("val_accuracy") == doctest::Approx(ev.accuracy));
    CHECK_MSG(error_of<GraphError>([&] { m->fit(d, {.validation = &tail, .validation_split = 0.2}); }), "not both");
  }

  TEST_CASE("load_model rebuilds, compiles and loads a saved model") {
    TempDir dir;
    const Dataset d = cnn_data(24, 6);
    auto m = small_cnn(7, SGD{.lr = 0.05, .momentum = 0.9}, 12, true);
    m->fit(d, {.batch_size = 8, .epochs = 2, .verbose = 0});
    m->set_learning_rate(0.02);
    const auto path = dir / "m.ggckpt";
    m->save(path);
    auto back = load_model(path, {.backend_options = {1, {}}});
    CHECK(back->architecture() == m->architecture());
    CHECK(back->to_json() == m->to_json());
    CHECK(back->step() == m->step());
    CHECK(back->learning_rate() == 0.02);
    CHECK(std::holds_alternative<SGD>(back->compile_options().optimizer));
    CHECK(std::get<SGD>(back->compile_options().optimizer).momentum == 0.9);
    CHECK(same_weights(back->get_weights(), m->get_weights()));
    CHECK(back->predict(d, 8) == m->predict(d, 8));
    // Both continue training identically: optimizer slots and step came along.
    m->fit(d, {.batch_size = 8, .epochs = 1, .verbose = 0});
    back->fit(d, {.batch_size = 8, .epochs = 1, .verbose = 0});
    CHECK(same_weights(back->get_weights(), m->get_weights()));
  }

  TEST_CASE("a checkpoint loads into a model with another optimizer, and weights_only skips the slots") {
    TempDir dir;
    const Dataset d = cnn_data(24, 7);
    auto adam = small_cnn(8, Adam{});
    adam->fit(d, {.batch_size = 8, .epochs = 1, .verbose = 0});
    const auto path = dir / "adam.ggckpt";
    adam->save(path);
    auto sgd = small_cnn(99, SGD{});
    std::ostringstream log;
    sgd->load(path, {.log = &log});
    CHECK(same_weights(sgd->get_weights(), adam->get_weights()));
    CHECK_MSG(log.str(), "optimizer state (adam, 12 tensors) does not fit this model's sgd: its optimizer state starts fresh");
    CHECK(sgd->step() == 0);
    sgd->fit(d, {.batch_size = 8, .epochs = 1, .verbose = 0});  // trains on from there

    auto again = small_cnn(98, Adam{});
    std::ostringstream quiet;
    again->load(path, {.weights_only = true, .log = &quiet});
    CHECK(quiet.str().empty());
    CHECK(same_weights(again->get_weights(), adam->get_weights()));
    CHECK(again->step() == 0);
  }

  TEST_CASE("a load error names the layer and the option that differ") {
    TempDir dir;
    auto m = small_cnn(9, Adam{}, 16);
    const auto path = dir / "m.ggckpt";
    m->save(path);
    auto other = small_cnn(9, Adam{}, 12);
    const std::string msg = error_of<ckpt::CheckpointError>([&] { other->load(path); });
    CHECK_MSG(msg, "another architecture: layer 5 (\"dense_1\"): units 16 in the checkpoint, 12 in this model");
    CHECK_MSG(msg, path.string());
  }

  TEST_CASE("a format-1 checkpoint still loads, and predicts as it did") {
    const std::string path = std::string(GG_SOURCE_DIR) + "/tests/data/model_v1.ggckpt";
    // tests/data/make_v1.cpp.txt wrote it with the graphgrad of commit 7ad5cce.
    auto m = std::make_unique<Sequential>(Shape{1, 8, 8}, 7);
    m->add(Conv2D{4, {3, 3}});
    m->add(Activation{"relu"});
    m->add(MaxPooling2D{{2, 2}});
    m->add(Flatten{});
    m->add(Dense{5});
    m->add(Activation{"softmax"});
    m->compile({.loss = "categorical_crossentropy", .optimizer = Adam{}, .backend = "cpu", .backend_options = {1, {}}});
    m->load(path);
    CHECK(m->step() == 8);
    std::vector<float> x;
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0, 1);
    for (int i = 0; i < 4 * 64; ++i) x.push_back(u(rng));
    const std::vector<float> p = m->predict(x.data(), 4, 4);
    std::ifstream f(std::string(GG_SOURCE_DIR) + "/tests/data/model_v1.predictions.txt");
    std::vector<float> want;
    for (std::string v; std::getline(f, v, ',');)
      if (!v.empty() && v != "\n") want.push_back(std::stof(v));
    REQUIRE(want.size() == p.size());
    for (size_t i = 0; i < p.size(); ++i) CHECK(p[i] == doctest::Approx(want[i]).epsilon(1e-6));
    CHECK_MSG(error_of<ckpt::CheckpointError>([&] { load_model(path); }), "format-1 checkpoint holds no architecture");
  }
}
