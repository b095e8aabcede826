// Names of losses and metrics (Keras's spellings), and the lookup of logged values.
#include "training_types.h"

#include <array>

#include <graphgrad/graph/graph.h>

namespace gg {
namespace {
constexpr std::array<std::string_view, static_cast<size_t>(LossKind::count_)> kLossNames = {
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse", "mae"};
constexpr std::array<std::string_view, static_cast<size_t>(MetricKind::count_)> kMetricNames = {"accuracy", "binary_accuracy",
                                                                                                 "mae"};

template <class Kind, size_t N>
Kind from_name(const std::array<std::string_view, N>& names, std::string_view name, const char* what) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == name) return static_cast<Kind>(i);
  std::string known;
  for (std::string_view n : names) known += (known.empty() ? "" : ", ") + std::string(n);
  throw GraphError("unknown " + std::string(what) + " '" + std::string(name) + "' (known: " + known + ")");
}
}  // namespace

std::string_view loss_name(LossKind kind) { return kLossNames.at(static_cast<size_t>(kind)); }
LossKind loss_from_name(std::string_view name) {
  if (name == "mean_squared_error") return LossKind::mse;
  if (name == "mean_absolute_error") return LossKind::mae;
  return from_name<LossKind>(kLossNames, name, "loss");
}
std::string_view metric_name(MetricKind kind) { return kMetricNames.at(static_cast<size_t>(kind)); }
MetricKind metric_from_name(std::string_view name) {
  if (name == "acc") return MetricKind::accuracy;
  return from_name<MetricKind>(kMetricNames, name, "metric");
}

bool EpochStats::has(std::string_view name) const {
  for (const auto& [k, v] : values)
    if (k == name) return true;
  return false;
}

double EpochStats::get(std::string_view name) const {
  std::string known;
  for (const auto& kv : values) {
    if (kv.first == name) return kv.second;
    known += (known.empty() ? "" : ", ") + kv.first;
  }
  throw GraphError("no logged value '" + std::string(name) + "' (this fit logs: " + known + ")");
}

}  // namespace gg
