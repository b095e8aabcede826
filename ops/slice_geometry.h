// The geometry of a slice x[start:stop:step] per axis, resolved from the
// node's attributes by Python's rules, and shared by the shape rules of slice
// and slice_backward and by both backends' kernels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <graphgrad/graph/graph.h>

namespace gg::ops {

// Per axis of x: the first element taken, the step and the output's length
// (an axis not sliced: 0, 1 and x's dimension, kBatch included).
struct SliceGeometry {
  std::vector<int64_t> start, step, out;
};

// Resolves attrs "axes", "starts", "stops", "steps" (as the user gave them:
// negative axes, starts and stops count from the end; starts and stops are
// clamped to [0, dim] like Python's) against x's shape. Returns "" or why the
// slice is refused.
inline std::string resolve_slice(const Shape& x, const Attrs& a, SliceGeometry& g) {
  const auto& axes = a.ints("axes");
  const auto& starts = a.ints("starts");
  const auto& stops = a.ints("stops");
  const auto& steps = a.ints("steps");
  if (starts.size() != axes.size() || stops.size() != axes.size() || steps.size() != axes.size())
    return "axes, starts, stops and steps must have one entry per sliced axis";
  const int rank = x.rank();
  g.start.assign(static_cast<size_t>(rank), 0);
  g.step.assign(static_cast<size_t>(rank), 1);
  g.out = x.dims();
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t ax = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (ax < 0 || ax >= rank)
      return "axis " + std::to_string(axes[i]) + " is out of range for rank " + std::to_string(rank);
    const auto d = static_cast<size_t>(ax);
    if (seen[d]) return "axis " + std::to_string(ax) + " is sliced twice";
    seen[d] = true;
    if (steps[i] <= 0)
      return "step " + std::to_string(steps[i]) + " on axis " + std::to_string(ax) +
             " must be >= 1 (as in PyTorch, which has no negative or zero slice steps; reverse with a flip)";
    if (x[static_cast<int>(ax)] == kBatch)
      return "axis " + std::to_string(ax) +
             " is the symbolic batch dimension N; a shape cannot say how many of N items a slice keeps. "
             "Give the placeholder a fixed batch to slice it";
    const int64_t dim = x[static_cast<int>(ax)];
    auto clamp = [dim](int64_t v) {
      if (v < 0) v = v < -dim ? 0 : v + dim;  // written so that INT64_MIN cannot overflow
      return v > dim ? dim : v;
    };
    const int64_t b = clamp(starts[i]), e = clamp(stops[i]);
    const int64_t len = e > b ? (e - b - 1) / steps[i] + 1 : 0;
    if (len == 0)
      return "the slice " + std::to_string(starts[i]) + ":" + std::to_string(stops[i]) + ":" + std::to_string(steps[i]) +
             " of axis " + std::to_string(ax) + " (size " + std::to_string(dim) +
             ") is empty; graphgrad has no empty tensors";
    g.start[d] = b, g.step[d] = steps[i], g.out[d] = len;
  }
  return {};
}

}  // namespace gg::ops
