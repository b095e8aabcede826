// The names of layer kinds, activations and paddings: Keras's spellings, used
// by Activation("relu"), the JSON in checkpoints, the CLI and summaries.
#include "layers.h"

#include <array>

#include <graphgrad/graph/graph.h>

namespace gg {
namespace {
constexpr std::array<std::string_view, static_cast<size_t>(ActivationKind::count_)> kActivationNames = {
    "linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "gelu_tanh", "silu", "elu",
    "leaky_relu", "softplus", "exponential"};
}  // namespace

std::string_view activation_name(ActivationKind kind) { return kActivationNames.at(static_cast<size_t>(kind)); }

ActivationKind activation_from_name(std::string_view name) {
  for (size_t i = 0; i < kActivationNames.size(); ++i)
    if (kActivationNames[i] == name) return static_cast<ActivationKind>(i);
  if (name == "swish") return ActivationKind::silu;  // Keras's other name for it
  std::string known;
  for (std::string_view n : kActivationNames) known += (known.empty() ? "" : ", ") + std::string(n);
  throw GraphError("unknown activation '" + std::string(name) + "' (known: " + known + ")");
}

std::string_view padding_name(PaddingMode mode) { return mode == PaddingMode::same ? "same" : "valid"; }

PaddingMode padding_from_name(std::string_view name) {
  if (name == "same") return PaddingMode::same;
  if (name == "valid") return PaddingMode::valid;
  throw GraphError("unknown padding '" + std::string(name) + "' (known: valid, same)");
}

std::string_view layer_kind(const Layer& layer) {
  static constexpr std::string_view kinds[] = {"Conv2D",   "Activation",       "MaxPooling2D",
                                               "Dropout",  "Flatten",          "Dense",
                                               "AveragePooling2D", "GlobalAveragePooling2D", "BatchNormalization"};
  static_assert(std::size(kinds) == std::variant_size_v<Layer>);
  return kinds[layer.index()];
}

std::string_view layer_base_name(const Layer& layer) {
  static constexpr std::string_view bases[] = {"conv2d",  "activation",        "max_pooling2d",
                                               "dropout", "flatten",           "dense",
                                               "average_pooling2d", "global_average_pooling2d", "batch_normalization"};
  static_assert(std::size(bases) == std::variant_size_v<Layer>);
  return bases[layer.index()];
}

const std::string& layer_name(const Layer& layer) {
  return std::visit([](const auto& l) -> const std::string& { return l.name; }, layer);
}

}  // namespace gg
