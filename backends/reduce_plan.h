// How both backends see a reduction: the input's dimensions (batch resolved,
// size-1 dimensions dropped) grouped into runs of reduced and kept axes.
// Each pass reduces the innermost reduced run, seen as [outer, size, inner].
#pragma once
#include <algorithm>
#include <cstdint>

#include <graphgrad/backends/node_view.h>

namespace gg {

struct ReducePlan {
  struct Run {
    int64_t size = 1;
    bool reduced = false;
  };
  Run runs[16];  // at most one per dimension
  int n = 0;
  int64_t count = 1;  // elements reduced into each output (the mean's divisor)
  int64_t total = 1;  // input elements

  // The node's input 0 reduced over its "axes" attribute.
  explicit ReducePlan(const NodeView& v) {
    const auto& axes = v.node->attrs.ints("axes");
    const Shape& xs = v.in_shape(0);
    for (int d = 0; d < xs.rank(); ++d) {
      const int64_t size = v.in_dim(0, d);
      total *= size;
      if (size == 1) continue;
      const bool red = std::find(axes.begin(), axes.end(), d) != axes.end();
      if (red) count *= size;
      if (n && runs[n - 1].reduced == red) runs[n - 1].size *= size;
      else runs[n++] = {size, red};
    }
  }
  // [outer, inner] around run g.
  int64_t outer(int g) const {
    int64_t o = 1;
    for (int i = 0; i < g; ++i) o *= runs[i].size;
    return o;
  }
  int64_t inner(int g) const {
    int64_t o = 1;
    for (int i = g + 1; i < n; ++i) o *= runs[i].size;
    return o;
  }
};

}  // namespace gg
