// Keras's training callbacks for Sequential::fit(): early stopping, saving
// the best model, per-epoch learning-rate schedules and reduce-on-plateau.
// fit() calls each hook in the order the callbacks were given. A callback's
// state() is JSON text stored in checkpoints, and its tensors() (EarlyStopping's
// best weights) are stored beside it, so `--resume` continues a plateau's
// patience or an early stop's best value and weights where they were.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint.h"
#include "training_types.h"

namespace gg {

class Sequential;

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Sequential&) {}
  virtual void on_epoch_begin(Sequential&, int /*epoch*/) {}
  virtual void on_epoch_end(Sequential&, const EpochStats&) {}
  virtual void on_train_end(Sequential&) {}
  // A unique key for the checkpoint's training state ("" : no state to keep).
  virtual std::string key() const { return {}; }
  virtual std::string state() const { return "{}"; }
  virtual void restore(const std::string& /*json*/) {}
  // Tensors kept beside state(), named by the callback: a checkpoint stores
  // them as "callbacks/<key>/<name>". fit() calls restore_tensors() right
  // after restore(), with what the checkpoint held for this key: nothing for
  // a checkpoint written before callbacks had tensors.
  virtual std::vector<ckpt::Tensor> tensors() const { return {}; }
  virtual void restore_tensors(std::vector<ckpt::Tensor> /*tensors*/) {}
};

// Which way a monitored value improves: min for losses, max for accuracies;
// auto_ decides from the name (anything with "acc" in it is maximised).
enum class MonitorMode { auto_, min, max };

// Stops training when `monitor` has not improved by more than min_delta for
// `patience` epochs; with restore_best_weights, puts back the weights of the
// best epoch (parameters and batch-norm statistics, not optimizer slots).
// Those weights are its tensors(), so a resumed run restores the same epoch's
// weights as an uninterrupted one.
class EarlyStopping : public Callback {
 public:
  struct Options {
    std::string monitor = "val_loss";
    int patience = 0;
    double min_delta = 0;
    MonitorMode mode = MonitorMode::auto_;
    bool restore_best_weights = false;
    int start_from_epoch = 0;  // epochs to wait before watching
  };
  explicit EarlyStopping(Options o);
  void on_train_begin(Sequential&) override;
  void on_epoch_end(Sequential&, const EpochStats&) override;
  void on_train_end(Sequential&) override;
  std::string key() const override { return "early_stopping"; }
  std::string state() const override;
  void restore(const std::string& json) override;
  std::vector<ckpt::Tensor> tensors() const override;
  void restore_tensors(std::vector<ckpt::Tensor> tensors) override;
  int stopped_epoch() const { return stopped_epoch_; }  // 0: ran to the end
  int best_epoch() const { return best_epoch_; }
  double best() const { return best_; }

 private:
  Options o_;
  bool maximize_ = false;
  double best_ = std::numeric_limits<double>::quiet_NaN();
  int best_epoch_ = 0, wait_ = 0, stopped_epoch_ = 0;
  std::vector<ckpt::Tensor> best_weights_;  // named as the model's variables (Sequential::get_named_weights)
  bool restored_ = false;                   // restore() ran: on_train_begin keeps what came with the state
};

// Saves the model to `path` after an epoch: every epoch, or (save_best_only)
// only when `monitor` improved. {epoch} in the path is replaced by the epoch.
class ModelCheckpoint : public Callback {
 public:
  struct Options {
    std::filesystem::path path;
    std::string monitor = "val_loss";
    bool save_best_only = false;
    MonitorMode mode = MonitorMode::auto_;
  };
  explicit ModelCheckpoint(Options o);
  void on_epoch_end(Sequential&, const EpochStats&) override;
  std::string key() const override { return "model_checkpoint"; }
  std::string state() const override;
  void restore(const std::string& json) override;
  int saves() const { return saves_; }

 private:
  Options o_;
  double best_ = std::numeric_limits<double>::quiet_NaN();
  int saves_ = 0;
};

// Keras's LearningRateScheduler: before each epoch (counted from 0), the
// learning rate becomes schedule(epoch, current rate).
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int epoch, double lr)> schedule);
  void on_epoch_begin(Sequential&, int epoch) override;

 private:
  std::function<double(int, double)> schedule_;
};

// Keras's ReduceLROnPlateau: multiplies the learning rate by `factor` when
// `monitor` has not improved by min_delta for `patience` epochs, then waits
// `cooldown` epochs; never below min_lr.
class ReduceLROnPlateau : public Callback {
 public:
  struct Options {
    std::string monitor = "val_loss";
    double factor = 0.1;
    int patience = 10;
    double min_delta = 1e-4;
    int cooldown = 0;
    double min_lr = 0;
    MonitorMode mode = MonitorMode::auto_;
  };
  explicit ReduceLROnPlateau(Options o);
  void on_epoch_end(Sequential&, const EpochStats&) override;
  std::string key() const override { return "reduce_lr_on_plateau"; }
  std::string state() const override;
  void restore(const std::string& json) override;

 private:
  Options o_;
  double best_ = std::numeric_limits<double>::quiet_NaN();
  int wait_ = 0, cooldown_left_ = 0;
};

}  // namespace gg
