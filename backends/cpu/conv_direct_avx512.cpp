// AVX-512 variants of the direct convolution kernels (conv_direct.cpp holds
// the drivers and the AVX2 kernels), compiled with a target attribute and
// chosen at run time (cpu_isa.h).
//
// Their results are bit for bit the AVX2 kernels': those vectorise across
// output positions, and every position here goes through the same float
// operations, in the same order, as in the AVX2 lane that computes it:
//  - valid conv and scatter: a zmm holds two of the AVX2 kernels' vectors of
//    8 positions (a "pair"), each lane summing over taps and channels in the
//    AVX2 order. The scatter adds each tap's sums into dx, and where two pairs
//    reach the same dx element the AVX2 kernel added pair by pair, tap by tap:
//    so all but a tile's first pair keep their per-tap sums in a buffer and
//    add them in that order once the taps are done.
//  - weight gradient: a zmm holds two weight columns (lanes 0-7 and 8-15),
//    each half keeping the AVX2 lanes' partial sums over positions q mod 8,
//    reduced in the AVX2 hsum's order.
#include <cstring>

#include "conv_direct_internal.h"
#include "simd.h"

// GCC 12's AVX-512 headers start several intrinsics (shuffle_f32x4,
// permute_ps, broadcast_f32x8, ...) from a self-initialised "undefined"
// vector, which -Wuninitialized reports wherever they inline (GCC PR 105593,
// fixed in 12.3/13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace gg::cpu::direct {
#if GG_HAVE_AVX2_PATHS
namespace {
using ops::ConvGeometry;

constexpr int kPairs = 3;          // zmm (pairs of 8-position vectors) per register tile, at most
constexpr int64_t kPrefetch = 64;  // floats ahead of the tile to prefetch the input's newest row

// The positions of a tile's pairs: each zmm's low and high 8 in the input and
// the output (offsets), and whether the high 8 count (an odd last vector is
// computed twice, its copy never added).
struct Pairs {
  int64_t in_lo[kPairs], in_hi[kPairs], out_lo[kPairs], out_hi[kPairs];
  bool two[kPairs];
};

GG_AVX512 inline __m512 load_pair(const float* lo, const float* hi) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(lo)), _mm256_loadu_ps(hi), 1);
}

GG_AVX512 inline void store_pair(float* lo, float* hi, __m512 v) {
  _mm256_storeu_ps(lo, _mm512_castps512_ps256(v));
  _mm256_storeu_ps(hi, _mm512_extractf32x8_ps(v, 1));
}

// Calls f.template operator()<R, K>() with R = rows (1..kRows512) and
// K = pairs (1..kPairs): the register tile's shape as template arguments.
template <int R = kRows512, int K = kPairs, class F>
void tile_shape(int64_t rows, int pairs, F&& f) {
  if constexpr (R > 1)
    if (rows < R) return tile_shape<R - 1, K>(rows, pairs, f);
  if constexpr (K > 1)
    if (pairs < K) return tile_shape<R, K - 1>(rows, pairs, f);
  f.template operator()<R, K>();
}

// acc[r*K + k] += w[c][r] * (pair k of channel c) over `count` channels
// `plane` floats apart from x, weights R per channel: each lane's FMAs in the
// AVX2 sum_channels' order. Returns w past the weights it used.
template <int R, int K>
GG_AVX512 inline const float* sum_channels(const float* x, const int64_t* lo, const int64_t* hi, int64_t count,
                                           int64_t plane, const float* w, __m512* acc) {
  for (int64_t c = 0; c < count; ++c) {
    __m512 v[K];
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) v[k] = load_pair(x + lo[k], x + hi[k]);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 wr = _mm512_set1_ps(w[r]);
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) acc[r * K + k] = _mm512_fmadd_ps(wr, v[k], acc[r * K + k]);
    }
    x += plane;
    w += R;
  }
  return w;
}

// One register tile of the valid conv: R output channels x K pairs, from the
// bias (or zero), through relu if asked; out is the first row's output.
template <int R, int K>
GG_AVX512 void valid_tile(const float* x, const Pairs& p, int64_t cin, int64_t plane, int64_t wp, int64_t kh,
                          int64_t kw, const float* w, const float* bias, bool relu, float* out, int64_t ldy) {
  __m512 acc[R * K];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512 init = bias ? _mm512_set1_ps(bias[r]) : _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) acc[r * K + k] = init;
  }
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t j = 0; j < kw; ++j) w = sum_channels<R, K>(x + i * wp + j, p.in_lo, p.in_hi, cin, plane, w, acc);
  if (relu) {
    // v < 0 ? +0 : v, as the AVX2 tile (a NaN and -0 pass through)
#pragma GCC unroll 32
    for (int a = 0; a < R * K; ++a)
      acc[a] = _mm512_maskz_mov_ps(static_cast<__mmask16>(~_mm512_cmp_ps_mask(acc[a], _mm512_setzero_ps(), _CMP_LT_OQ)),
                                   acc[a]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) store_pair(out + r * ldy + p.out_lo[k], out + r * ldy + p.out_hi[k], acc[r * K + k]);
}

// dx (R channel planes) at pair k's positions + shift += the pair's sums,
// from registers (acc[r*K + k]) or, if acc is null, from buf (row r at
// r*K*16): the AVX2 kernel's two 8-float adds, or one 16-float add where the
// halves are adjacent (distinct elements either way).
template <int R, int K>
GG_AVX512 inline void add_pair(float* dx, int64_t dx_plane, const Pairs& p, int k, int64_t shift, const __m512* acc,
                               const float* buf) {
  float* pa = dx + p.out_lo[k] + shift;
  float* pb = dx + p.out_hi[k] + shift;
  if (p.two[k] && p.out_hi[k] == p.out_lo[k] + 8) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 s = acc ? acc[r * K + k] : _mm512_loadu_ps(buf + r * K * 16);
      _mm512_storeu_ps(pa + r * dx_plane, _mm512_add_ps(_mm512_loadu_ps(pa + r * dx_plane), s));
    }
    return;
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512 s = acc ? acc[r * K + k] : _mm512_loadu_ps(buf + r * K * 16);
    float* a = pa + r * dx_plane;
    _mm256_storeu_ps(a, _mm256_add_ps(_mm256_loadu_ps(a), _mm512_castps512_ps256(s)));
    if (p.two[k]) {
      float* b = pb + r * dx_plane;
      _mm256_storeu_ps(b, _mm256_add_ps(_mm256_loadu_ps(b), _mm512_extractf32x8_ps(s, 1)));
    }
  }
}

// One register tile of the input gradient by scattering: R input channels x
// K pairs of dy vectors, each tap's sums over the output channels added into
// dx at the tap's shift. Where two pairs reach the same dx element, the AVX2
// kernel (one pair at a time) added all of the first pair's taps before the
// second's: so pair 0 adds its sums tap by tap, as they come, and the others
// wait in `buf` until the taps are done.
template <int R, int K>
GG_AVX512 void scatter_tile(const float* dy, const Pairs& p, int64_t cout, int64_t dy_plane, int64_t kh, int64_t kw,
                            const float* w, float* dx, int64_t dx_plane, int64_t dx_w, float* buf) {
  const int64_t taps = kh * kw;
  auto shift = [&](int64_t t) { return (t / kw) * dx_w + t % kw; };
  for (int64_t t = 0; t < taps; ++t) {
    __m512 acc[R * K];
#pragma GCC unroll 32
    for (int a = 0; a < R * K; ++a) acc[a] = _mm512_setzero_ps();
    w = sum_channels<R, K>(dy, p.in_lo, p.in_hi, cout, dy_plane, w, acc);
    add_pair<R, K>(dx, dx_plane, p, 0, shift(t), acc, nullptr);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int k = 1; k < K; ++k) _mm512_storeu_ps(buf + (t * R * K + r * K + k) * 16, acc[r * K + k]);
  }
  for (int k = 1; k < K; ++k)
    for (int64_t t = 0; t < taps; ++t) add_pair<R, K>(dx, dx_plane, p, k, shift(t), nullptr, buf + (t * R * K + k) * 16);
}

// dw[r][n] += sum over the positions of `runs` of dy[r][.] * x[off[n] + .]
// for R rows and the `cols` (<= 2K) weight columns at x + off[0..2K) (a
// column past `cols` repeats the last one and is not stored): zmm k holds
// columns 2k (lanes 0-7) and 2k+1 (lanes 8-15). dy comes interleaved, its R
// rows' vector v at dyi + (v*R + r)*8, so one pointer walks it.
template <int R, int K>
GG_AVX512 void weight_tile(const float* dyi, const float* x, const int64_t* off, int64_t cols, const Runs& runs,
                           float* dw, int64_t ldw) {
  __m512 acc[R * K];
#pragma GCC unroll 32
  for (int a = 0; a < R * K; ++a) acc[a] = _mm512_setzero_ps();
  // One loop over the vectors (rows mode has a few per run), x stepping to the next run as needed.
  const int64_t per_run = runs.len / 8, vectors = runs.vectors(), jump = runs.in_step - runs.len;
  int64_t left = per_run;
  for (int64_t v = 0; v < vectors; ++v) {
    __m512 xv[K];
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) xv[k] = load_pair(x + off[2 * k], x + off[2 * k + 1]);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 d = _mm512_broadcast_f32x8(_mm256_loadu_ps(dyi + r * 8));
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) acc[r * K + k] = _mm512_fmadd_ps(d, xv[k], acc[r * K + k]);
    }
    dyi += R * 8;
    x += 8;
    if (--left == 0) left = per_run, x += jump;
  }
  // Each half reduced as the AVX2 hsum does: (l0+l4, l1+l5, l2+l6, l3+l7),
  // then (s0+s2, s1+s3), then their sum.
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) {
      const __m512 v = acc[r * K + k];
      __m512 s = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(3, 3, 1, 1)));
      s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(3, 2, 3, 2)));
      s = _mm512_add_ps(s, _mm512_movehdup_ps(s));
      dw[r * ldw + 2 * k] += _mm512_cvtss_f32(s);
      if (2 * k + 1 < cols) dw[r * ldw + 2 * k + 1] += _mm_cvtss_f32(_mm512_extractf32x4_ps(s, 2));
    }
}
}  // namespace

GG_AVX512 void valid_conv_avx512(const float* x, int64_t ch, int64_t plane, int64_t wp, const Runs& runs,
                                 const float* packed, int64_t cout, int64_t kh, int64_t kw, const float* bias,
                                 bool relu, float* out, int64_t ldy, int64_t v_begin, int64_t v_end) {
  const int64_t taps = ch * kh * kw;
  const int64_t vectors = v_end < 0 ? runs.vectors() : v_end;
  const RowBlocks blocks(cout, kRows512);
  for (int64_t v = v_begin; v < vectors; v += 2 * kPairs) {
    const int pairs = static_cast<int>(std::min<int64_t>(kPairs, (vectors - v + 1) / 2));
    Pairs p{};
    for (int k = 0; k < pairs; ++k) {
      const int64_t a = v + 2 * k, b = std::min(a + 1, vectors - 1);  // an odd last vector is computed twice
      p.in_lo[k] = runs.in_at(a), p.in_hi[k] = runs.in_at(b);
      p.out_lo[k] = runs.out_at(a), p.out_hi[k] = runs.out_at(b);
    }
    // The tile's newest input row, a few tiles ahead, for every channel (as
    // the AVX2 kernel; clamped to the planes' last float).
    const int64_t ahead = p.in_hi[pairs - 1] + (kh - 1) * wp + kPrefetch;
    for (int64_t c = 0; c < ch; ++c)
      _mm_prefetch(reinterpret_cast<const char*>(x + std::min(c * plane + ahead, ch * plane - 1)), _MM_HINT_T0);
    for (int64_t blk = 0; blk < blocks.count; ++blk) {
      const int64_t o0 = blocks.first(blk);
      const float* w = packed + o0 * taps;
      const float* b = bias ? bias + o0 : nullptr;
      float* y = out + o0 * ldy;
      tile_shape(blocks.rows(blk), pairs, [&]<int R, int K>() {
        valid_tile<R, K>(x, p, ch, plane, wp, kh, kw, w, b, relu, y, ldy);
      });
    }
  }
}

size_t scatter_buffer_avx512(const ConvGeometry& g) { return aligned(g.kh * g.kw * kRows512 * kPairs * 16); }

GG_AVX512 void scatter_conv_avx512(const float* dy, const ConvGeometry& g, const float* packed, float* dx,
                                   float* buffer) {
  std::memset(dx, 0, static_cast<size_t>(g.c * g.h * g.w) * sizeof(float));
  const Runs runs{g.oh, g.ow, g.ow, g.w};  // "in": dy's rows, "out": dx's (g.w apart)
  const int64_t taps = g.oc * g.kh * g.kw, vectors = runs.vectors();
  const int64_t dy_plane = g.oh * g.ow, dx_plane = g.h * g.w;
  const RowBlocks blocks(g.c, kRows512);
  for (int64_t v = 0; v < vectors; v += 2 * kPairs) {
    const int pairs = static_cast<int>(std::min<int64_t>(kPairs, (vectors - v + 1) / 2));
    Pairs p{};
    for (int k = 0; k < pairs; ++k) {
      const int64_t a = v + 2 * k;
      p.two[k] = a + 1 < vectors;
      const int64_t b = p.two[k] ? a + 1 : a;
      p.in_lo[k] = runs.in_at(a), p.in_hi[k] = runs.in_at(b);
      p.out_lo[k] = runs.out_at(a), p.out_hi[k] = runs.out_at(b);
    }
    for (int64_t blk = 0; blk < blocks.count; ++blk) {
      const int64_t c0 = blocks.first(blk);
      const float* w = packed + c0 * taps;
      float* dxc = dx + c0 * dx_plane;
      tile_shape(blocks.rows(blk), pairs, [&]<int R, int K>() {
        scatter_tile<R, K>(dy, p, g.oc, dy_plane, g.kh, g.kw, w, dxc, dx_plane, g.w, buffer);
      });
    }
  }
}

GG_AVX512 void weight_grad_avx512(const float* dy, int64_t ldy, const Runs& runs, const float* x, int64_t ch,
                                  int64_t plane, int64_t wp, int64_t oc, int64_t kh, int64_t kw, float* dw,
                                  float* buffer) {
  const int64_t cols = ch * kh * kw, per_tile = 2 * kPairs, vectors = runs.vectors();
  const RowBlocks blocks(oc, kRows512);
  // dy interleaved by row block, as weight_tile reads it: block b (rows from
  // o0) at buffer + o0*vectors*8, its row r's vector v at (v*rows + r)*8.
  for (int64_t b = 0; b < blocks.count; ++b) {
    const int64_t o0 = blocks.first(b), rows = blocks.rows(b);
    float* to = buffer + o0 * vectors * 8;
    for (int64_t run = 0; run < runs.count; ++run)
      for (int64_t q = 0; q < runs.len; q += 8)
        for (int64_t r = 0; r < rows; ++r, to += 8)
          _mm256_storeu_ps(to, _mm256_loadu_ps(dy + (o0 + r) * ldy + run * runs.out_step + q));
  }
  for (int64_t b = 0; b < blocks.count; ++b) {
    const int64_t o0 = blocks.first(b);
    int64_t c = 0, i = 0, j = 0;  // column `col`'s channel and tap (no divisions: this loop is hot)
    for (int64_t col = 0; col < cols; col += per_tile) {
      const int64_t n = std::min(per_tile, cols - col);
      int64_t off[2 * kPairs];
      for (int64_t u = 0; u < per_tile; ++u) {
        if (u >= n) {
          off[u] = off[n - 1];
          continue;
        }
        off[u] = c * plane + i * wp + j;
        if (++j == kw) {
          j = 0;
          if (++i == kh) i = 0, ++c;
        }
      }
      tile_shape(blocks.rows(b), static_cast<int>((n + 1) / 2), [&]<int R, int K>() {
        weight_tile<R, K>(buffer + o0 * vectors * 8, x, off, n, runs, dw + o0 * cols + col, cols);
      });
    }
  }
}
#else
void valid_conv_avx512(const float*, int64_t, int64_t, int64_t, const Runs&, const float*, int64_t, int64_t, int64_t,
                       const float*, bool, float*, int64_t, int64_t, int64_t) {}
size_t scatter_buffer_avx512(const ops::ConvGeometry&) { return 0; }
void scatter_conv_avx512(const float*, const ops::ConvGeometry&, const float*, float*, float*) {}
void weight_grad_avx512(const float*, int64_t, const Runs&, const float*, int64_t, int64_t, int64_t, int64_t, int64_t,
                        int64_t, float*, float*) {}
#endif

}  // namespace gg::cpu::direct
