// Layer descriptions for the Sequential builder, named as in Keras so that a
// model reads like the tutorial:
//   model.add(Conv2D(32, {3, 3}));  model.add(Activation("relu"));
//   model.add(Dense{.units = 128, .activation = ActivationKind::relu});
// A layer is plain data: what it builds in the graph lives in layer_rules.cpp,
// its JSON form (checkpoints) in model_json.cpp.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace gg {

enum class PaddingMode { valid, same };

// Every activation op of the op table, plus linear (none). Keras's names
// (activation_name) are what JSON, the CLI and Activation("...") use.
enum class ActivationKind {
  linear, relu, sigmoid, tanh, softmax, log_softmax, gelu, gelu_tanh, silu, elu, leaky_relu, softplus, exponential,
  count_
};
std::string_view activation_name(ActivationKind kind);
// Throws GraphError listing the known names when `name` is none of them.
ActivationKind activation_from_name(std::string_view name);
std::string_view padding_name(PaddingMode mode);
PaddingMode padding_from_name(std::string_view name);

struct Conv2D {
  int filters;
  std::array<int, 2> kernel_size;
  int stride = 1;
  PaddingMode padding = PaddingMode::valid;
  std::string name = {};
  ActivationKind activation = ActivationKind::linear;  // applied after the bias, as Keras's activation=
  bool use_bias = true;
};
struct Activation {
  ActivationKind kind = ActivationKind::linear;
  std::string name = {};
  // leaky_relu's negative slope (default 0.01, PyTorch's) or elu's alpha (default 1).
  std::optional<double> alpha = {};
  Activation() = default;
  Activation(ActivationKind k, std::string layer_name = {}) : kind(k), name(std::move(layer_name)) {}
  // Keras's spelling: Activation("relu"); throws GraphError for an unknown name.
  Activation(std::string_view kind_name, std::string layer_name = {})
      : kind(activation_from_name(kind_name)), name(std::move(layer_name)) {}
  Activation(const char* kind_name, std::string layer_name = {}) : Activation(std::string_view(kind_name), std::move(layer_name)) {}
};
struct MaxPooling2D {
  std::array<int, 2> pool_size;  // square windows only
  int stride = 0;                // 0: the pool size
  std::string name = {};
};
// Keras's AveragePooling2D: 'valid' (PyTorch's avg_pool2d) or 'same'
// (TensorFlow's, each window divided by its count of real elements).
struct AveragePooling2D {
  std::array<int, 2> pool_size;  // square windows only
  int stride = 0;                // 0: the pool size
  PaddingMode padding = PaddingMode::valid;
  std::string name = {};
};
// [N,C,H,W] -> [N,C]: the mean over each channel's plane.
struct GlobalAveragePooling2D {
  std::string name = {};
};
// Keras's BatchNormalization over axis 1 (channels after Conv2D, features
// after Dense): batch statistics while training, with the moving mean and
// variance updated inside the training step (moving = momentum * moving +
// (1 - momentum) * batch, biased batch variance as Keras); the moving
// statistics at inference.
struct BatchNormalization {
  double momentum = 0.99, epsilon = 1e-3;
  std::string name = {};
  bool center = true, scale = true;  // learn beta / gamma (else fixed at 0 / 1)
};
struct Dropout {
  double rate;
  std::string name = {};
};
struct Flatten {
  std::string name = {};
};
struct Dense {
  int units;
  std::string name = {};
  ActivationKind activation = ActivationKind::linear;
  bool use_bias = true;
};

using Layer = std::variant<Conv2D, Activation, MaxPooling2D, Dropout, Flatten, Dense, AveragePooling2D,
                           GlobalAveragePooling2D, BatchNormalization>;

// Keras's class name ("Conv2D") and the base of its default layer names ("conv2d").
std::string_view layer_kind(const Layer& layer);
std::string_view layer_base_name(const Layer& layer);
const std::string& layer_name(const Layer& layer);

}  // namespace gg
