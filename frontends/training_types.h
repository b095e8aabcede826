// The vocabulary of training shared by Sequential, its callbacks and the CLI:
// losses, metrics, what an epoch or an evaluation reports, and the errors
// fit() throws.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <graphgrad/graph/error.h>

namespace gg {

// Keras's losses. The cross-entropies are fused with a final softmax/sigmoid
// into one stable op on the logits (or read logits directly with
// from_logits); after any other output they take log(clip(p, 1e-7, 1 - 1e-7)),
// as Keras does.
//  - sparse_categorical_crossentropy: class ids;
//  - categorical_crossentropy: float target rows (one-hot or soft); class ids
//    are accepted too and turned into one-hot rows batch by batch;
//  - binary_crossentropy: float targets in [0, 1] of the output's shape;
//  - mse, mae: float targets of the output's shape.
enum class LossKind { sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy, mse, mae, count_ };
std::string_view loss_name(LossKind kind);
LossKind loss_from_name(std::string_view name);  // throws GraphError listing the known names

struct Loss {
  LossKind kind = LossKind::categorical_crossentropy;
  bool from_logits = false;  // the model's output is logits (no final softmax/sigmoid)
  Loss() = default;
  Loss(LossKind k, bool logits = false) : kind(k), from_logits(logits) {}
  Loss(std::string_view name) : kind(loss_from_name(name)) {}
  Loss(const char* name) : Loss(std::string_view(name)) {}
};

// Keras's metrics. accuracy is categorical (argmax) accuracy, or binary
// accuracy when the loss is binary_crossentropy, as Keras resolves "accuracy".
enum class MetricKind { accuracy, binary_accuracy, mae, count_ };
std::string_view metric_name(MetricKind kind);
MetricKind metric_from_name(std::string_view name);

struct EpochStats {
  int epoch = 0;
  double loss = 0, accuracy = 0;          // training, averaged over the epoch (dropout on); accuracy if measured
  double val_loss = 0, val_accuracy = 0;  // on the validation data, when given
  double learning_rate = 0;               // at the epoch's last step
  double seconds = 0;                     // training time of the epoch, validation excluded
  int64_t images = 0;
  // Every logged value by Keras's name: "loss", each metric, "val_loss",
  // "val_<metric>", "learning_rate". What callbacks monitor.
  std::vector<std::pair<std::string, double>> values;
  bool has(std::string_view name) const;
  double get(std::string_view name) const;  // throws GraphError listing the names there are
};

struct Evaluation {
  double loss = 0, accuracy = 0;
  std::vector<std::pair<std::string, double>> values;  // "loss" and each metric
};

// A NaN or infinity in training; the message names the step and, with
// check_numerics, the first node that produced it.
class NumericsError : public Error {
 public:
  using Error::Error;
};

// fit() was stopped by FitOptions::should_stop (a signal, say).
class Interrupted : public Error {
 public:
  using Error::Error;
};

}  // namespace gg
