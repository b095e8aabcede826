// max_pool2d forward and backward, one (image, channel) plane per work item.
// The backward recomputes each window's arg-max (first maximum wins), the
// rule every backend follows.
#include <algorithm>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"
#include "simd.h"

namespace gg::cpu {
namespace {

struct PoolGeometry {
  int64_t planes, h, w, oh, ow, p, s;
};
PoolGeometry geometry(const KernelArgs& a, int x_input) {
  return {a.in_dim(x_input, 0) * a.in_dim(x_input, 1), a.in_dim(x_input, 2), a.in_dim(x_input, 3),
          (a.in_dim(x_input, 2) - a.node->attrs.i("pool")) / a.node->attrs.i("stride") + 1,
          (a.in_dim(x_input, 3) - a.node->attrs.i("pool")) / a.node->attrs.i("stride") + 1,
          a.node->attrs.i("pool"), a.node->attrs.i("stride")};
}

// Offset of the window's maximum within the plane.
inline int64_t window_argmax(const float* x, const PoolGeometry& g, int64_t oy, int64_t ox) {
  int64_t best = oy * g.s * g.w + ox * g.s;
  for (int64_t i = 0; i < g.p; ++i)
    for (int64_t j = 0; j < g.p; ++j) {
      const int64_t at = (oy * g.s + i) * g.w + ox * g.s + j;
      if (x[at] > x[best]) best = at;
    }
  return best;
}

void max_pool2d(const KernelArgs& a) {
  const PoolGeometry g = geometry(a, 0);
  const float* x = a.input(0);
  a.pool->parallel_for(g.planes, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * g.h * g.w;
      float* yp = a.out + p * g.oh * g.ow;
      if (g.p == 2 && g.s == 2) {  // the common case, without the generic window loop
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const float* r0 = xp + 2 * oy * g.w;
          const float* r1 = r0 + g.w;
          for (int64_t ox = 0; ox < g.ow; ++ox)
            yp[oy * g.ow + ox] = std::max(std::max(r0[2 * ox], r0[2 * ox + 1]), std::max(r1[2 * ox], r1[2 * ox + 1]));
        }
        continue;
      }
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) yp[oy * g.ow + ox] = xp[window_argmax(xp, g, oy, ox)];
    }
  }, 8);
}

// One row of 2x2 stride-2 windows: r0, r1 the two input rows, dy the row of
// pooled gradients, d0, d1 the two rows of dx written whole: each gradient on
// its window's first maximum in row-major order (window_argmax's rule; a NaN
// never wins), zeros elsewhere. Returns the windows done, a multiple of 8.
int64_t pool2x2_backward_row_avx2(const float*, const float*, const float*, float*, float*, int64_t);
#if GG_HAVE_AVX2_PATHS
// De-interleave 16 floats into their 8 even and 8 odd columns, and back.
// (Functions, not lambdas: a lambda does not inherit GG_AVX2's target.)
GG_AVX2 inline __m256 even_columns(__m256 lo, __m256 hi) {
  return _mm256_permutevar8x32_ps(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
}
GG_AVX2 inline __m256 odd_columns(__m256 lo, __m256 hi) {
  return _mm256_permutevar8x32_ps(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)), _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
}
GG_AVX2 inline void store_interleaved(float* dst, __m256 even, __m256 odd) {
  const __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(lo, hi, 0x20));
  _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

GG_AVX2 int64_t pool2x2_backward_row_avx2(const float* r0, const float* r1, const float* dy, float* d0, float* d1,
                                           int64_t ow) {
  int64_t ox = 0;
  for (; ox + 8 <= ow; ox += 8) {
    const __m256 t0 = _mm256_loadu_ps(r0 + 2 * ox), t1 = _mm256_loadu_ps(r0 + 2 * ox + 8);
    const __m256 u0 = _mm256_loadu_ps(r1 + 2 * ox), u1 = _mm256_loadu_ps(r1 + 2 * ox + 8);
    const __m256 a0 = even_columns(t0, t1), a1 = odd_columns(t0, t1), b0 = even_columns(u0, u1), b1 = odd_columns(u0, u1);
    const __m256 k1 = _mm256_cmp_ps(a1, a0, _CMP_GT_OQ);  // scan: a0, then a1, b0, b1 if strictly greater
    const __m256 m1 = _mm256_blendv_ps(a0, a1, k1);
    const __m256 k2 = _mm256_cmp_ps(b0, m1, _CMP_GT_OQ);
    const __m256 m2 = _mm256_blendv_ps(m1, b0, k2);
    const __m256 k3 = _mm256_cmp_ps(b1, m2, _CMP_GT_OQ);
    const __m256 d = _mm256_loadu_ps(dy + ox);
    const __m256 later2 = _mm256_or_ps(k2, k3);  // a later element than a0/a1 won
    const __m256 at_a0 = _mm256_andnot_ps(_mm256_or_ps(k1, later2), d);
    const __m256 at_a1 = _mm256_and_ps(_mm256_andnot_ps(later2, k1), d);
    const __m256 at_b0 = _mm256_and_ps(_mm256_andnot_ps(k3, k2), d);
    const __m256 at_b1 = _mm256_and_ps(k3, d);
    store_interleaved(d0 + 2 * ox, at_a0, at_a1);
    store_interleaved(d1 + 2 * ox, at_b0, at_b1);
  }
  return ox;
}
#else
int64_t pool2x2_backward_row_avx2(const float*, const float*, const float*, float*, float*, int64_t) { return 0; }
#endif

// inputs: dy, x
void max_pool2d_backward(const KernelArgs& a) {
  const PoolGeometry g = geometry(a, 1);
  const float* dy = a.input(0);
  const float* x = a.input(1);
  float* out = a.out;
  const bool avx2 = has_avx2_fma();
  a.pool->parallel_for(g.planes, [=](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * g.h * g.w;
      const float* dyp = dy + p * g.oh * g.ow;
      float* dxp = out + p * g.h * g.w;
      if (g.p == 2 && g.s == 2) {
        // Disjoint windows: write each window whole in one pass, then zero
        // the odd row and column no window covers.
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const float* r0 = xp + 2 * oy * g.w;
          const float* r1 = r0 + g.w;
          float* d0 = dxp + 2 * oy * g.w;
          float* d1 = d0 + g.w;
          const float* dyr = dyp + oy * g.ow;
          const int64_t done = avx2 ? pool2x2_backward_row_avx2(r0, r1, dyr, d0, d1, g.ow) : 0;
          for (int64_t ox = done; ox < g.ow; ++ox) {
            const int64_t o = 2 * ox;
            const int64_t cand[4] = {o, o + 1, o + g.w, o + g.w + 1};
            int64_t best = cand[0];
            for (int k = 1; k < 4; ++k)
              if (r0[cand[k]] > r0[best]) best = cand[k];
            d0[o] = d0[o + 1] = d1[o] = d1[o + 1] = 0.0f;
            d0[best] = dyr[ox];
          }
          if (g.w > 2 * g.ow) d0[g.w - 1] = d1[g.w - 1] = 0.0f;
        }
        if (g.h > 2 * g.oh) std::fill(dxp + 2 * g.oh * g.w, dxp + g.h * g.w, 0.0f);
        continue;
      }
      std::fill(dxp, dxp + g.h * g.w, 0.0f);
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) dxp[window_argmax(xp, g, oy, ox)] += dyp[oy * g.ow + ox];
    }
  }, 8);
}

const KernelEntry kEntries[] = {
    {ops::id::max_pool2d, max_pool2d, nullptr},
    {ops::id::max_pool2d_backward, max_pool2d_backward, nullptr},
};
}  // namespace

KernelTable pool_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
