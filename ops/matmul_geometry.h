// The layout of a batched matmul C[...,M,N] = op(A)[...,M,K] op(B)[...,K,N],
// derived once from the shapes and shared by the backends: where each of the
// output's matrices finds its A and B. Broadcast batch dimensions have stride
// 0 (the operand's matrix is reused, never copied); adjacent dimensions that
// step alike in A, B and C merge, so that the common cases ([N,...] x [...],
// [N,...] x [N,...]) are one level, which a backend walks as one strided batch.
#pragma once
#include <array>
#include <cstdint>

#include <graphgrad/graph/shape.h>

namespace gg::ops {

// infer() refuses more batch dimensions than this, so a kernel's fixed arrays
// always hold the levels (merging only ever reduces their number).
inline constexpr int kMatmulMaxBatchDims = 16;

struct MatmulLevel {
  int64_t count = 1, stride_a = 0, stride_b = 0, stride_c = 0;  // strides in elements
};

struct MatmulGeometry {
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0;             // stored row lengths of A and B
  int64_t mat_a = 0, mat_b = 0, mat_c = 0;  // elements per matrix
  int64_t count = 1;                    // output matrices in all
  int levels = 0;                       // merged batch levels, outermost first (0: one matrix)
  std::array<MatmulLevel, kMatmulMaxBatchDims> level{};

  // Element offsets of the i-th output matrix's operands (C's is i * mat_c).
  void offsets(int64_t i, int64_t& off_a, int64_t& off_b) const {
    off_a = off_b = 0;
    for (int l = levels - 1; l >= 0; --l) {
      const int64_t j = i % level[size_t(l)].count;
      i /= level[size_t(l)].count;
      off_a += j * level[size_t(l)].stride_a, off_b += j * level[size_t(l)].stride_b;
    }
  }
};

// a, b, c: the operands' and the output's shapes (as inferred, rank >= 2);
// a symbolic batch is taken as `batch`. Allocates nothing.
inline MatmulGeometry matmul_geometry(const Shape& a, const Shape& b, const Shape& c, bool ta, bool tb, int64_t batch) {
  const auto dim = [batch](const Shape& s, int i) { return s[i] == kBatch ? batch : s[i]; };
  const int ra = a.rank(), rb = b.rank(), rc = c.rank(), nb = rc - 2;
  MatmulGeometry g;
  g.m = dim(c, rc - 2), g.n = dim(c, rc - 1), g.k = dim(a, ta ? ra - 2 : ra - 1);
  g.lda = dim(a, ra - 1), g.ldb = dim(b, rb - 1);
  g.mat_a = dim(a, ra - 2) * g.lda, g.mat_b = dim(b, rb - 2) * g.ldb, g.mat_c = g.m * g.n;
  // Per output batch dimension (innermost first), each operand's stride.
  std::array<MatmulLevel, kMatmulMaxBatchDims> per{};
  int64_t acc_a = g.mat_a, acc_b = g.mat_b, acc_c = g.mat_c;
  for (int d = nb - 1; d >= 0; --d) {
    MatmulLevel& l = per[size_t(d)];
    l.count = dim(c, d);
    const int ia = d - (nb - (ra - 2)), ib = d - (nb - (rb - 2));  // the operands' dims, right-aligned
    if (ia >= 0 && dim(a, ia) != 1) l.stride_a = acc_a, acc_a *= dim(a, ia);
    if (ib >= 0 && dim(b, ib) != 1) l.stride_b = acc_b, acc_b *= dim(b, ib);
    l.stride_c = acc_c, acc_c *= l.count;
    g.count *= l.count;
  }
  for (int d = 0; d < nb; ++d) {
    const MatmulLevel& l = per[size_t(d)];
    if (l.count == 1) continue;  // steps nowhere
    if (g.levels > 0) {
      MatmulLevel& o = g.level[size_t(g.levels - 1)];
      if (o.stride_a == l.stride_a * l.count && o.stride_b == l.stride_b * l.count && o.stride_c == l.stride_c * l.count) {
        o = {o.count * l.count, l.stride_a, l.stride_b, l.stride_c};
        continue;
      }
    }
    g.level[size_t(g.levels++)] = l;
  }
  return g;
}

}  // namespace gg::ops
