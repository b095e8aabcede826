// The element-wise ops of eltwise.def as data: what the backends generate
// kernels from and what the tests generate cases from.
#pragma once
#include <array>
#include <span>
#include <string_view>

#include <graphgrad/graph/graph.h>
#include <graphgrad/graph/op.h>

namespace gg::ops {

// Which of the forward's input x and output y a unary op's gradient reads.
enum class Uses : uint8_t { x, y, xy };

struct UnaryInfo {
  OpId op, backward;
  std::string_view name;
  Uses uses;
  int params;  // float attributes p0, p1 (0 for GG_UNARY ops)
  double flops;  // per element
  float lo, hi;  // test input range
  std::string_view onnx;  // "" when the exporter handles it itself
};

struct BinaryInfo {
  OpId op, backward;
  std::string_view name;
  double flops;
  float lo, hi;
  std::string_view onnx;
};

std::span<const UnaryInfo> unary_ops();
std::span<const BinaryInfo> binary_ops();
// The row of a unary or binary op, by its forward or backward id; nullptr when
// the op is not of that family.
const UnaryInfo* unary_info(OpId op);
const BinaryInfo* binary_info(OpId op);

// A unary op's attributes p0, p1 as its kernels read them (0 where it has none).
std::array<float, 2> unary_params(const Node& n);
// The names its builder stores them under ("alpha", "lo", ...).
std::array<std::string_view, 2> unary_param_names(OpId op);

// The NumPy broadcast of two shapes (right-aligned; a dimension of 1 stretches;
// the symbolic batch matches only itself or 1). Throws GraphError naming
// `what` and both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what);

}  // namespace gg::ops
