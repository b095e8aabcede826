// Layer descriptions for the Sequential builder, named as in Keras so that a
// model reads like the tutorial:
//   model.add(Conv2D(32, {3, 3}));  model.add(Activation("relu"));
#pragma once
#include <array>
#include <string>
#include <variant>

namespace gg {

enum class PaddingMode { valid, same };

struct Conv2D {
  int filters;
  std::array<int, 2> kernel_size;
  int stride = 1;
  PaddingMode padding = PaddingMode::valid;
  std::string name = {};
};
struct Activation {
  std::string kind;  // "relu" or "softmax"
  std::string name = {};
};
struct MaxPooling2D {
  std::array<int, 2> pool_size;  // square windows only
  int stride = 0;                // 0: the pool size
  std::string name = {};
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
};

using Layer = std::variant<Conv2D, Activation, MaxPooling2D, Dropout, Flatten, Dense>;

}  // namespace gg
