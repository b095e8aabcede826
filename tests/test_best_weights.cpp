// EarlyStopping(restore_best_weights) across a resume: its best epoch's
// weights travel in the checkpoint (callback tensors), so a run stopped after
// its best epoch and resumed into a new model ends with the same weights, bit
// for bit, as an uninterrupted run; a format-2 checkpoint written before
// callbacks had tensors still loads and trains, saying what it lacks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <graphgrad/frontends/checkpoint.h>
#include <graphgrad/frontends/sequential.h>

#include "test_util.h"

using namespace gg;
using gg::test::error_of;

namespace {

using Weights = std::vector<std::vector<float>>;

bool same_weights(const Weights& a, const Weights& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0) return false;
  return true;
}

// Items with a bump at every 5th pixel from their class; the first `wrong` of
// every 5 items of a class are labelled as the next class. Validation data
// with some wrong labels gets better while the model learns, then worse as it
// grows sure of itself: the best val_loss comes after the first epoch but
// well before the last.
Dataset bump_data(int64_t n, unsigned seed, int wrong) {
  std::vector<float> x;
  std::vector<int32_t> y;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = static_cast<int32_t>(i % 5);
    for (int k = 0; k < 64; ++k) x.push_back(u(rng) * 0.5f + (k % 5 == label ? 0.5f : 0.0f));
    y.push_back((label + ((i / 5) % 5 < wrong ? 1 : 0)) % 5);
  }
  return Dataset::with_class_ids(Shape{1, 8, 8}, std::move(x), std::move(y), 5);
}

// Batch norm's moving statistics are weights too; dropout makes the steps depend on the step count.
std::unique_ptr<Sequential> bn_model() {
  auto m = std::make_unique<Sequential>(Shape{1, 8, 8}, 21);
  m->add(Conv2D{.filters = 4, .kernel_size = {3, 3}, .use_bias = false});
  m->add(BatchNormalization{});
  m->add(Activation{"relu"});
  m->add(Flatten{});
  m->add(Dropout{0.2});
  m->add(Dense{5});
  m->add(Activation{"softmax"});
  m->compile({.loss = LossKind::sparse_categorical_crossentropy, .optimizer = Adam{.lr = 1e-2}, .backend_options = {1, {}}});
  return m;
}

struct Run {
  Weights final;
  std::vector<Weights> after_epoch;  // as each epoch ended, before restore_best_weights
  int best_epoch = 0;
  std::string log;  // what went to std::cerr
};

// Trains `epochs` epochs (from `load`, if given) with EarlyStopping(val_loss,
// restore_best_weights) whose patience outlasts the run; saves to `save` at
// the end of epoch save_epoch, or after global step save_step (mid-epoch).
Run train(const Dataset& d, const Dataset& val, int epochs, const std::string& load, const std::string& save = "",
          int save_epoch = -1, int64_t save_step = -1) {
  auto m = bn_model();
  std::ostringstream err;
  std::streambuf* cerr_was = std::cerr.rdbuf(err.rdbuf());
  struct Restore {
    std::streambuf* was;
    ~Restore() { std::cerr.rdbuf(was); }
  } restore{cerr_was};
  if (!load.empty()) m->load(load);
  auto stop = std::make_shared<EarlyStopping>(
      EarlyStopping::Options{.monitor = "val_loss", .patience = 100, .restore_best_weights = true});
  Run r;
  FitOptions fo{.batch_size = 8, .epochs = epochs, .validation = &val, .verbose = 0};
  fo.callbacks = {stop};
  fo.on_epoch_end = [&](const EpochStats& s) {
    r.after_epoch.push_back(m->get_weights());
    if (s.epoch == save_epoch) m->save(save);
  };
  fo.on_step_end = [&](int, int64_t) {
    if (m->step() == save_step) m->save(save);
  };
  m->fit(d, fo);
  r.final = m->get_weights();
  r.best_epoch = stop->best_epoch();
  r.log = err.str();
  return r;
}

struct TempDir : gg::test::TempDir {
  TempDir() : gg::test::TempDir("gg_best_weights_test_") {}
};

}  // namespace

TEST_SUITE("training_control") {
  TEST_CASE("EarlyStopping(restore_best_weights) resumed after its best epoch ends with the uninterrupted run's weights") {
    TempDir dir;
    const Dataset d = bump_data(40, 1, 0), val = bump_data(25, 2, 2);  // 5 steps an epoch
    constexpr int kEpochs = 8;
    const Run whole = train(d, val, kEpochs, "");
    const int best = whole.best_epoch;
    INFO("best epoch of the uninterrupted run: " << best);
    REQUIRE(best >= 1);
    REQUIRE(best + 2 < kEpochs);  // epochs after it to stop in and to resume into
    CHECK(same_weights(whole.final, whole.after_epoch[size_t(best - 1)]));
    CHECK_FALSE(same_weights(whole.final, whole.after_epoch.back()));

    const std::string path = (dir / "es.ggckpt").string();
    // Stopped at the best epoch's end, two epochs after it, and in the middle of the epoch after it.
    struct Stop {
      int epoch;
      int64_t step;
    };
    for (const Stop at : {Stop{best, -1}, Stop{best + 2, -1}, Stop{-1, int64_t(best) * 5 + 2}}) {
      CAPTURE(at.epoch);
      CAPTURE(at.step);
      const int64_t step = at.epoch > 0 ? int64_t(at.epoch) * 5 : at.step;
      train(d, val, static_cast<int>(step / 5) + 1, "", path, at.epoch, at.step);
      const ckpt::Checkpoint c = ckpt::load(path);
      REQUIRE(c.step == static_cast<uint64_t>(step));
      CHECK(c.find("callbacks/early_stopping/dense_1/kernel"));
      CHECK(c.find("callbacks/early_stopping/batch_normalization_1/moving_mean"));
      const Run resumed = train(d, val, kEpochs - static_cast<int>(step / 5), path);
      CHECK(resumed.log.empty());
      CHECK(resumed.best_epoch == best);
      CHECK(same_weights(resumed.final, whole.final));
    }

    // A format-2 checkpoint as written before callbacks had tensors: the same file without them.
    ckpt::Checkpoint old = ckpt::load(path);
    const size_t before = old.tensors.size();
    std::erase_if(old.tensors, [](const ckpt::Tensor& t) { return t.name.rfind("callbacks/", 0) == 0; });
    REQUIRE(old.tensors.size() < before);
    nlohmann::json doc = nlohmann::json::parse(old.json);
    REQUIRE(doc["training"].contains("callback_tensors"));
    doc["training"].erase("callback_tensors");
    old.json = doc.dump();
    const std::string old_path = (dir / "old.ggckpt").string();
    ckpt::save(old_path, old);
    const int64_t old_step = int64_t(best) * 5 + 2;
    const Run from_old = train(d, val, kEpochs - best, old_path);
    CHECK_MSG(from_old.log, "EarlyStopping: the checkpoint holds no weights of the best epoch (" + std::to_string(best) + ")");
    CHECK(std::count(from_old.log.begin(), from_old.log.end(), '\n') == 1);
    CHECK(from_old.after_epoch.size() == size_t(kEpochs - old_step / 5));
    // As before best weights were saved: the first epoch after the resume stands in for the lost one.
    CHECK(same_weights(from_old.final, from_old.after_epoch.front()));

    // A listing of callback tensors that the file does not hold is a corrupt file, named.
    doc["training"]["callback_tensors"] = {{"early_stopping", {"dense_1/kernel"}}};
    old.json = doc.dump();
    const std::string bad_path = (dir / "bad.ggckpt").string();
    ckpt::save(bad_path, old);
    auto m = bn_model();
    const std::string msg = error_of<ckpt::CheckpointError>([&] { m->load(bad_path); });
    CHECK_MSG(msg, bad_path);
    CHECK_MSG(msg, "training.callback_tensors lists tensor \"callbacks/early_stopping/dense_1/kernel\", which the file does not hold");
  }
}
