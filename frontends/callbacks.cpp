#include "callbacks.h"

#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "sequential.h"

namespace gg {
namespace {
bool maximizes(const std::string& monitor, MonitorMode mode) {
  if (mode != MonitorMode::auto_) return mode == MonitorMode::max;
  return monitor.find("acc") != std::string::npos;  // Keras's rule
}
// NaN (nothing seen yet) is beaten by anything.
bool better(double current, double best, bool maximize, double min_delta) {
  if (std::isnan(best)) return true;
  return maximize ? current - min_delta > best : current + min_delta < best;
}
double json_number(const nlohmann::json& j, const char* key, double fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return j[key].get<double>();
}
nlohmann::json number_or_null(double v) { return std::isnan(v) ? nlohmann::json() : nlohmann::json(v); }
}  // namespace

EarlyStopping::EarlyStopping(Options o) : o_(std::move(o)) {
  if (o_.patience < 0) throw GraphError("EarlyStopping: patience must be >= 0");
  if (o_.min_delta < 0) throw GraphError("EarlyStopping: min_delta must be >= 0");
  maximize_ = maximizes(o_.monitor, o_.mode);
}

void EarlyStopping::on_train_begin(Sequential&) {
  stopped_epoch_ = 0;
  // Best weights carry over only with the state they belong to (restored from
  // the model's checkpoint or its last fit), never from another model's fit.
  if (!restored_) best_weights_.clear();
  restored_ = false;
}

void EarlyStopping::on_epoch_end(Sequential& model, const EpochStats& s) {
  const double current = s.get(o_.monitor);
  if (s.epoch <= o_.start_from_epoch) return;
  if (o_.restore_best_weights && best_weights_.empty()) best_weights_ = model.get_named_weights(), best_epoch_ = s.epoch;
  ++wait_;
  if (better(current, best_, maximize_, o_.min_delta)) {
    best_ = current;
    best_epoch_ = s.epoch;
    if (o_.restore_best_weights) best_weights_ = model.get_named_weights();
    wait_ = 0;
    return;
  }
  if (wait_ >= o_.patience) {
    stopped_epoch_ = s.epoch;
    model.stop_training();
  }
}

void EarlyStopping::on_train_end(Sequential& model) {
  if (!o_.restore_best_weights || best_weights_.empty()) return;
  std::vector<std::vector<float>> values;
  for (const ckpt::Tensor& t : best_weights_) values.push_back(t.values);
  model.set_weights(values);
}

std::string EarlyStopping::state() const {
  return nlohmann::json{{"best", number_or_null(best_)}, {"best_epoch", best_epoch_}, {"wait", wait_}}.dump();
}

void EarlyStopping::restore(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  best_ = json_number(j, "best", std::nan(""));
  best_epoch_ = static_cast<int>(json_number(j, "best_epoch", 0));
  wait_ = static_cast<int>(json_number(j, "wait", 0));
  best_weights_.clear();  // restore_tensors() brings this state's own
  restored_ = true;
}

std::vector<ckpt::Tensor> EarlyStopping::tensors() const {
  return o_.restore_best_weights ? best_weights_ : std::vector<ckpt::Tensor>{};
}

void EarlyStopping::restore_tensors(std::vector<ckpt::Tensor> tensors) {
  if (!o_.restore_best_weights) return;
  best_weights_ = std::move(tensors);
  // A checkpoint written before best weights were saved (or by a run without
  // restore_best_weights) knows the best epoch but not its weights.
  if (best_weights_.empty() && best_epoch_ > 0)
    std::cerr << "EarlyStopping: the checkpoint holds no weights of the best epoch (" << best_epoch_
              << "); restore_best_weights can only restore an epoch from this run on\n";
}

ModelCheckpoint::ModelCheckpoint(Options o) : o_(std::move(o)) {
  if (o_.path.empty()) throw GraphError("ModelCheckpoint: the path is empty");
}

void ModelCheckpoint::on_epoch_end(Sequential& model, const EpochStats& s) {
  if (o_.save_best_only) {
    const double current = s.get(o_.monitor);
    if (!better(current, best_, maximizes(o_.monitor, o_.mode), 0.0)) return;
    best_ = current;
  }
  std::string path = o_.path.string();
  for (size_t at; (at = path.find("{epoch}")) != std::string::npos;) path.replace(at, 7, std::to_string(s.epoch));
  model.save(path);
  ++saves_;
}

std::string ModelCheckpoint::state() const { return nlohmann::json{{"best", number_or_null(best_)}}.dump(); }

void ModelCheckpoint::restore(const std::string& text) { best_ = json_number(nlohmann::json::parse(text), "best", std::nan("")); }

LearningRateScheduler::LearningRateScheduler(std::function<double(int, double)> schedule) : schedule_(std::move(schedule)) {
  if (!schedule_) throw GraphError("LearningRateScheduler: no schedule function");
}

void LearningRateScheduler::on_epoch_begin(Sequential& model, int epoch) {
  model.set_learning_rate(schedule_(epoch - 1, model.learning_rate()));
}

ReduceLROnPlateau::ReduceLROnPlateau(Options o) : o_(std::move(o)) {
  if (!(o_.factor > 0 && o_.factor < 1)) throw GraphError("ReduceLROnPlateau: factor must be in (0, 1)");
  if (o_.patience < 0 || o_.cooldown < 0) throw GraphError("ReduceLROnPlateau: patience and cooldown must be >= 0");
  if (o_.min_lr < 0) throw GraphError("ReduceLROnPlateau: min_lr must be >= 0");
}

void ReduceLROnPlateau::on_epoch_end(Sequential& model, const EpochStats& s) {
  const double current = s.get(o_.monitor);
  const bool maximize = maximizes(o_.monitor, o_.mode);
  if (cooldown_left_ > 0) --cooldown_left_, wait_ = 0;
  if (better(current, best_, maximize, o_.min_delta)) {
    best_ = current;
    wait_ = 0;
  } else if (cooldown_left_ == 0 && ++wait_ >= o_.patience) {
    const double lr = model.learning_rate();
    if (lr > static_cast<double>(static_cast<float>(o_.min_lr))) {
      model.set_learning_rate(std::max(lr * o_.factor, o_.min_lr));
      cooldown_left_ = o_.cooldown;
      wait_ = 0;
    }
  }
}

std::string ReduceLROnPlateau::state() const {
  return nlohmann::json{{"best", number_or_null(best_)}, {"wait", wait_}, {"cooldown_left", cooldown_left_}}.dump();
}

void ReduceLROnPlateau::restore(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  best_ = json_number(j, "best", std::nan(""));
  wait_ = static_cast<int>(json_number(j, "wait", 0));
  cooldown_left_ = static_cast<int>(json_number(j, "cooldown_left", 0));
}

}  // namespace gg
