// The index space of the shape ops (transpose, concat, slice, slice_backward)
// on every backend: element k of a dims-shaped walk is copied from
// src[src0 + sum k_d * src_d] to dst[dst0 + sum k_d * dst_d]. Dimensions of
// size 1 are dropped and neighbours that are contiguous in both source and
// destination are merged, so most copies end up rank 1-3.
#pragma once
#include <cstdint>
#include <string>

#include <graphgrad/backends/backend.h>
#include <graphgrad/backends/node_view.h>
#include <graphgrad/graph/shape.h>
#include <graphgrad/ops/slice_geometry.h>

namespace gg {

struct StridedCopy {
  static constexpr int kRank = 16;
  int rank = 0;
  int64_t dims[kRank] = {}, src[kRank] = {}, dst[kRank] = {};
  int64_t src0 = 0, dst0 = 0;

  int64_t count() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= dims[d];
    return n;
  }

  // Appends a dimension (outermost first), merging it into the previous one
  // where both strides allow.
  void push(int64_t dim, int64_t s, int64_t t) {
    if (dim == 1) return;
    if (rank > 0 && src[rank - 1] == s * dim && dst[rank - 1] == t * dim) {
      dims[rank - 1] *= dim;
      src[rank - 1] = s, dst[rank - 1] = t;
      return;
    }
    if (rank == kRank) throw BackendError("shape ops take at most 16 dimensions");
    dims[rank] = dim, src[rank] = s, dst[rank] = t;
    ++rank;
  }
};

namespace shape_copy {

// Row-major strides of a resolved shape.
inline void strides(const NodeView& a, const Shape& s, int64_t* out) {
  if (s.rank() > StridedCopy::kRank)
    throw BackendError(a.graph->describe(a.node->id) + ": shape ops take at most 16 dimensions");
  int64_t st = 1;
  for (int d = s.rank() - 1; d >= 0; --d) {
    out[d] = st;
    st *= s[d];
  }
}

// transpose: output element k is x's element at the permuted index.
inline StridedCopy transpose(const NodeView& a) {
  const Shape xs = a.in_shape(0).resolved(a.batch), ys = a.node->shape.resolved(a.batch);
  const auto& perm = a.node->attrs.ints("perm");
  int64_t xst[StridedCopy::kRank], yst[StridedCopy::kRank];
  strides(a, xs, xst);
  strides(a, ys, yst);
  StridedCopy c;
  for (int d = 0; d < ys.rank(); ++d) c.push(ys[d], xst[perm[static_cast<size_t>(d)]], yst[d]);
  return c;
}

// slice: the output from x's strided window; slice_backward (`backward`): dy
// into that window of the (zeroed) output.
inline StridedCopy slice(const NodeView& a, bool backward) {
  const Shape xs = (backward ? a.node->shape : a.in_shape(0)).resolved(a.batch);
  ops::SliceGeometry geo;
  if (std::string why = ops::resolve_slice(xs, a.node->attrs, geo); !why.empty())
    throw BackendError(a.graph->describe(a.node->id) + ": " + why);
  const Shape ys(geo.out);
  int64_t xst[StridedCopy::kRank], yst[StridedCopy::kRank];
  strides(a, xs, xst);
  strides(a, ys, yst);
  StridedCopy c;
  int64_t base = 0;
  for (int d = 0; d < xs.rank(); ++d) {
    const auto i = static_cast<size_t>(d);
    base += geo.start[i] * xst[d];
    if (backward) c.push(ys[d], yst[d], xst[d] * geo.step[i]);
    else c.push(ys[d], xst[d] * geo.step[i], yst[d]);
  }
  (backward ? c.dst0 : c.src0) = base;
  return c;
}

// concat: input k into the output, from position `at` along the axis.
inline StridedCopy concat(const NodeView& a, int k, int64_t at) {
  const Shape xs = a.in_shape(k).resolved(a.batch), ys = a.node->shape.resolved(a.batch);
  const auto axis = static_cast<int>(a.node->attrs.i("axis"));
  int64_t xst[StridedCopy::kRank], yst[StridedCopy::kRank];
  strides(a, xs, xst);
  strides(a, ys, yst);
  StridedCopy c;
  for (int d = 0; d < xs.rank(); ++d) c.push(xs[d], xst[d], yst[d]);
  c.dst0 = at * yst[axis];
  return c;
}

}  // namespace shape_copy

}  // namespace gg
