// Direct stride-1 convolution: the drivers and the AVX2 kernels (see
// conv_direct.h for the "wide" output they compute; conv_direct_avx512.cpp
// has the AVX-512 kernels, bit for bit the same results). The micro-kernels
// are compiled for their instruction set with a target attribute and chosen
// at run time (cpu_isa.h), so the rest of the backend needs no special flags.
#include "conv_direct.h"

#include <algorithm>
#include <cstring>

#include "conv_direct_internal.h"
#include "cpu_isa.h"
#include "simd.h"

namespace gg::cpu::direct {
namespace {
using ops::ConvGeometry;

constexpr int64_t kRows = 6;       // output channels per AVX2 register tile, at most
constexpr int64_t kPrefetch = 64;  // floats ahead of the tile to prefetch the input's newest row

// Weights packed for the valid kernel: RowBlocks of at most max_rows output
// channels, each [kh][kw][cin][rows] so a tile broadcasts its rows' weights
// from one line. tap(o, ci, i, j) gives the weight of output channel o, input
// channel ci, tap (i, j).
template <class Tap>
void pack_weights(int64_t cout, int64_t cin, int64_t kh, int64_t kw, int64_t max_rows, Tap tap, float* packed) {
  const RowBlocks blocks(cout, max_rows);
  for (int64_t b = 0; b < blocks.count; ++b) {
    const int64_t o0 = blocks.first(b), rows = blocks.rows(b);
    float* block = packed + o0 * cin * kh * kw;
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j)
        for (int64_t ci = 0; ci < cin; ++ci)
          for (int64_t r = 0; r < rows; ++r) *block++ = tap(o0 + r, ci, i, j);
  }
}

#if GG_HAVE_AVX2_PATHS
// The inner loop of both conv tiles: lo[r] += w[c][r] * a[c], hi[r] +=
// w[c][r] * b[c] over `count` channels `plane` floats apart, vectors of 8 at
// a and b, weights R per channel. Returns w past the weights it used.
template <int R>
GG_AVX2 inline const float* sum_channels(const float* a, const float* b, int64_t count, int64_t plane, const float* w,
                                         __m256* lo, __m256* hi) {
  for (int64_t c = 0; c < count; ++c) {
    const __m256 va = _mm256_loadu_ps(a), vb = _mm256_loadu_ps(b);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 wr = _mm256_broadcast_ss(w + r);
      lo[r] = _mm256_fmadd_ps(wr, va, lo[r]);
      hi[r] = _mm256_fmadd_ps(wr, vb, hi[r]);
    }
    a += plane;
    b += plane;
    w += R;
  }
  return w;
}

// One register tile of the valid conv: R output channels x 2 vectors of 8
// positions (at xa/ya and xb/yb), summed over every tap and input channel,
// starting from the bias (or zero). 2R accumulators + 2 input vectors + 1
// broadcast weight stay in the 16 ymm registers for R = 6.
template <int R>
GG_AVX2 void valid_tile(const float* xa, const float* xb, int64_t cin, int64_t plane, int64_t wp, int64_t kh,
                        int64_t kw, const float* w, const float* bias, bool relu, float* ya, float* yb, int64_t ldy) {
  __m256 lo[R], hi[R];  // two 1-D arrays: GCC keeps these in registers (a 2-D one it spilled)
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) lo[r] = hi[r] = bias ? _mm256_broadcast_ss(bias + r) : _mm256_setzero_ps();
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t j = 0; j < kw; ++j) {
      const int64_t tap = i * wp + j;
      w = sum_channels<R>(xa + tap, xb + tap, cin, plane, w, lo, hi);
    }
  if (relu) {
    // relu(v) = v < 0 ? 0 : v, bit for bit what the relu kernel's
    // std::max(v, 0.0f) gives (a NaN and -0 pass through)
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      lo[r] = _mm256_andnot_ps(_mm256_cmp_ps(lo[r], zero, _CMP_LT_OQ), lo[r]);
      hi[r] = _mm256_andnot_ps(_mm256_cmp_ps(hi[r], zero, _CMP_LT_OQ), hi[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(ya + r * ldy, lo[r]);
    _mm256_storeu_ps(yb + r * ldy, hi[r]);
  }
}

// out[o][...] (row stride ldy) for every output channel over the positions of
// `runs` (its vectors of 8 from v_begin, even, to v_end), from ch planes of x
// (plane floats each, rows wp apart).
GG_AVX2 void valid_conv(const float* x, int64_t ch, int64_t plane, int64_t wp, const Runs& runs, const float* packed,
                        int64_t cout, int64_t kh, int64_t kw, const float* bias, bool relu, float* out, int64_t ldy,
                        int64_t v_begin, int64_t v_end) {
  const int64_t taps = ch * kh * kw;
  const int64_t vectors = v_end < 0 ? runs.vectors() : v_end;
  const RowBlocks blocks(cout, kRows);
  for (int64_t v = v_begin; v < vectors; v += 2) {
    const int64_t v2 = std::min(v + 1, vectors - 1);  // an odd last vector is computed twice
    const float* xa = x + runs.in_at(v);
    const float* xb = x + runs.in_at(v2);
    // The tile's newest input row, a few tiles ahead, for every channel: the
    // hardware prefetcher does not follow this many strided streams.
    // (Clamped to the planes' last float: a pointer past the buffer is
    // undefined even if the prefetch itself cannot fault.)
    const int64_t ahead = (xb - x) + (kh - 1) * wp + kPrefetch;
    for (int64_t c = 0; c < ch; ++c)
      _mm_prefetch(reinterpret_cast<const char*>(x + std::min(c * plane + ahead, ch * plane - 1)), _MM_HINT_T0);
    for (int64_t blk = 0; blk < blocks.count; ++blk) {
      const int64_t o0 = blocks.first(blk);
      const float* w = packed + o0 * taps;
      const float* b = bias ? bias + o0 : nullptr;
      float* ya = out + o0 * ldy + runs.out_at(v);
      float* yb = out + o0 * ldy + runs.out_at(v2);
      switch (blocks.rows(blk)) {
        case 6: valid_tile<6>(xa, xb, ch, plane, wp, kh, kw, w, b, relu, ya, yb, ldy); break;
        case 5: valid_tile<5>(xa, xb, ch, plane, wp, kh, kw, w, b, relu, ya, yb, ldy); break;
        case 4: valid_tile<4>(xa, xb, ch, plane, wp, kh, kw, w, b, relu, ya, yb, ldy); break;
        case 3: valid_tile<3>(xa, xb, ch, plane, wp, kh, kw, w, b, relu, ya, yb, ldy); break;
        case 2: valid_tile<2>(xa, xb, ch, plane, wp, kh, kw, w, b, relu, ya, yb, ldy); break;
        default: valid_tile<1>(xa, xb, ch, plane, wp, kh, kw, w, b, relu, ya, yb, ldy); break;
      }
    }
  }
}

// One register tile of the input gradient by scattering (a 'valid' conv
// whose output width is a multiple of 8): for each tap, the sum over output
// channels o of w[o][c][i][j] * dy[o] over 2 vectors of dy positions (at
// da, db), for R input channels c, added into dx at the tap's shift. The sum
// stays in registers for a whole tap; dx is read and written once per tap.
// `two` is false for an odd last vector, whose second slot repeats the first
// (computed, not added twice).
template <int R>
GG_AVX2 void scatter_tile(const float* da, const float* db, bool two, int64_t cout, int64_t dy_plane, int64_t kh,
                          int64_t kw, const float* w, float* xa, float* xb, int64_t dx_plane, int64_t dx_w) {
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t j = 0; j < kw; ++j) {
      __m256 lo[R], hi[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
      w = sum_channels<R>(da, db, cout, dy_plane, w, lo, hi);
      const int64_t shift = i * dx_w + j;
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        float* pa = xa + r * dx_plane + shift;
        _mm256_storeu_ps(pa, _mm256_add_ps(_mm256_loadu_ps(pa), lo[r]));
        if (two) {
          float* pb = xb + r * dx_plane + shift;
          _mm256_storeu_ps(pb, _mm256_add_ps(_mm256_loadu_ps(pb), hi[r]));
        }
      }
    }
}

// dx (c planes of h x w, zeroed here) of one image from its dy (oc planes of
// oh x ow, ow a multiple of 8), for a 'valid' stride-1 conv; `packed` holds
// the weights in the valid kernel's layout with the input channels as rows.
GG_AVX2 void scatter_conv(const float* dy, const ConvGeometry& g, const float* packed, float* dx, float* /*buffer*/) {
  std::memset(dx, 0, static_cast<size_t>(g.c * g.h * g.w) * sizeof(float));
  const Runs runs{g.oh, g.ow, g.ow, g.w};  // "in": dy's rows, "out": dx's (g.w apart)
  const int64_t taps = g.oc * g.kh * g.kw, vectors = runs.vectors();
  const RowBlocks blocks(g.c, kRows);
  for (int64_t v = 0; v < vectors; v += 2) {
    const bool two = v + 1 < vectors;
    const int64_t v2 = two ? v + 1 : v;
    const float* da = dy + runs.in_at(v);
    const float* db = dy + runs.in_at(v2);
    for (int64_t blk = 0; blk < blocks.count; ++blk) {
      const int64_t c0 = blocks.first(blk);
      const float* w = packed + c0 * taps;
      float* xa = dx + c0 * g.h * g.w + runs.out_at(v);
      float* xb = dx + c0 * g.h * g.w + runs.out_at(v2);
      const int64_t dyp = g.oh * g.ow, dxp = g.h * g.w;
      switch (blocks.rows(blk)) {
        case 6: scatter_tile<6>(da, db, two, g.oc, dyp, g.kh, g.kw, w, xa, xb, dxp, g.w); break;
        case 5: scatter_tile<5>(da, db, two, g.oc, dyp, g.kh, g.kw, w, xa, xb, dxp, g.w); break;
        case 4: scatter_tile<4>(da, db, two, g.oc, dyp, g.kh, g.kw, w, xa, xb, dxp, g.w); break;
        case 3: scatter_tile<3>(da, db, two, g.oc, dyp, g.kh, g.kw, w, xa, xb, dxp, g.w); break;
        case 2: scatter_tile<2>(da, db, two, g.oc, dyp, g.kh, g.kw, w, xa, xb, dxp, g.w); break;
        default: scatter_tile<1>(da, db, two, g.oc, dyp, g.kh, g.kw, w, xa, xb, dxp, g.w); break;
      }
    }
  }
}

GG_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// dw[o][col] += sum over the positions of `runs` of dy[o][.] * x[col's offset + .]
// for R output channels and V (1 or 2) weight columns, vectors along the runs.
template <int R, int V>
GG_AVX2 void weight_tile(const float* dy, int64_t ldy, const float* const* xcol, const Runs& runs, float* dw,
                         int64_t ldw) {
  // One 1-D array per column (see valid_tile: GCC spills 2-D ones).
  __m256 a0[R], a1[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm256_setzero_ps();
  for (int64_t run = 0; run < runs.count; ++run) {
    const float* x0p = xcol[0] + run * runs.in_step;
    const float* x1p = (V == 2 ? xcol[1] : xcol[0]) + run * runs.in_step;
    const float* d0p = dy + run * runs.out_step;
    for (int64_t q = 0; q < runs.len; q += 8) {
      const __m256 x0 = _mm256_loadu_ps(x0p + q);
      const __m256 x1 = V == 2 ? _mm256_loadu_ps(x1p + q) : x0;
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        __m256 d = _mm256_loadu_ps(d0p + r * ldy + q);
        // Pin d in a register: GCC otherwise folds its load into both FMAs,
        // and the tile becomes load-bound (14 loads per 12 FMAs instead of 8).
        __asm__("" : "+x"(d));
        a0[r] = _mm256_fmadd_ps(d, x0, a0[r]);
        if constexpr (V == 2) a1[r] = _mm256_fmadd_ps(d, x1, a1[r]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    dw[r * ldw] += hsum(a0[r]);
    if constexpr (V == 2) dw[r * ldw + 1] += hsum(a1[r]);
  }
}

template <int V>
GG_AVX2 void weight_tile_rows(int64_t rows, const float* dy, int64_t ldy, const float* const* xcol, const Runs& runs,
                              float* dw, int64_t ldw) {
  switch (rows) {
    case 6: weight_tile<6, V>(dy, ldy, xcol, runs, dw, ldw); break;
    case 5: weight_tile<5, V>(dy, ldy, xcol, runs, dw, ldw); break;
    case 4: weight_tile<4, V>(dy, ldy, xcol, runs, dw, ldw); break;
    case 3: weight_tile<3, V>(dy, ldy, xcol, runs, dw, ldw); break;
    case 2: weight_tile<2, V>(dy, ldy, xcol, runs, dw, ldw); break;
    default: weight_tile<1, V>(dy, ldy, xcol, runs, dw, ldw); break;
  }
}

// dw[OC][C*KH*KW] += dy (x) x for one image: dy's rows ldy apart, x's ch
// planes of `plane` floats with rows wp apart, positions as `runs`.
GG_AVX2 void weight_grad(const float* dy, int64_t ldy, const Runs& runs, const float* x, int64_t ch, int64_t plane,
                         int64_t wp, int64_t oc, int64_t kh, int64_t kw, float* dw, float* /*buffer*/) {
  const int64_t cols = ch * kh * kw;
  const RowBlocks blocks(oc, kRows);
  for (int64_t b = 0; b < blocks.count; ++b) {
    const int64_t o0 = blocks.first(b), rows = blocks.rows(b);
    for (int64_t col = 0; col < cols; col += 2) {
      const float* xcol[2] = {};
      for (int64_t v = 0; v < 2 && col + v < cols; ++v) {
        const int64_t c = (col + v) / (kh * kw), tap = (col + v) % (kh * kw);
        xcol[v] = x + c * plane + (tap / kw) * wp + tap % kw;
      }
      if (col + 1 < cols)
        weight_tile_rows<2>(rows, dy + o0 * ldy, ldy, xcol, runs, dw + o0 * cols + col, cols);
      else
        weight_tile_rows<1>(rows, dy + o0 * ldy, ldy, xcol, runs, dw + o0 * cols + col, cols);
    }
  }
}
#else
void valid_conv(const float*, int64_t, int64_t, int64_t, const Runs&, const float*, int64_t, int64_t, int64_t,
                const float*, bool, float*, int64_t, int64_t, int64_t) {}
void weight_grad(const float*, int64_t, const Runs&, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                 float*, float*) {}
void scatter_conv(const float*, const ConvGeometry&, const float*, float*, float*) {}
#endif

// The kernels of the active instruction set (cpu_isa.h), and the register
// tile height their packed weights are blocked by.
struct Kernels {
  int64_t rows;
  decltype(&valid_conv) valid;
  decltype(&scatter_conv) scatter;
  decltype(&weight_grad) weight;
};
Kernels kernels() {
  if (active_isa() == Isa::avx512) return {kRows512, valid_conv_avx512, scatter_conv_avx512, weight_grad_avx512};
  return {kRows, valid_conv, scatter_conv, weight_grad};
}

// Per thread: dy padded, dx in wide form, the AVX-512 scatter's sums (planned
// for either instruction set: set_active_isa may switch between plan and run).
size_t backward_input_thread_scratch(const ConvGeometry& g) {
  const Padded in = backward_input_dy(g);
  return aligned(in.floats()) + aligned(g.c * in.nq_tiles) + scatter_buffer_avx512(g);
}

}  // namespace

bool supported() { return active_isa().has_value(); }

bool applicable(const ConvGeometry& g) {
  const int64_t pad_bottom = g.oh + g.kh - 1 - g.h - g.pad_top;
  const int64_t pad_right = g.ow + g.kw - 1 - g.w - g.pad_left;
  const bool pads_in_window = g.pad_top >= 0 && g.pad_left >= 0 && pad_bottom >= 0 && pad_right >= 0 &&
                              g.pad_top < g.kh && g.pad_left < g.kw && pad_bottom < g.kh && pad_right < g.kw;
  // Few input channels (conv2d_1: one) leave the tile's loop too short to pay
  // for the wide columns; im2col with a K of C*KH*KW does better there. A 1x1
  // window needs no im2col at all: the sgemm path takes it.
  return supported() && g.stride == 1 && pads_in_window && g.c >= 8 && g.oc >= 8 && g.kh * g.kw > 1;
}

size_t forward_scratch(const ConvGeometry& g, int threads) {
  const Padded in = forward_input(g);
  return aligned(g.oc * g.col_rows()) + (aligned(in.floats()) + aligned(g.oc * in.nq_tiles)) * static_cast<size_t>(threads);
}

size_t backward_input_scratch(const ConvGeometry& g, int threads) {
  return aligned(g.oc * g.col_rows()) + backward_input_thread_scratch(g) * static_cast<size_t>(threads);
}

size_t backward_weight_scratch(const ConvGeometry& g, int threads) {
  const Padded in = forward_input(g);
  return (aligned(in.floats()) + 2 * aligned(g.oc * wide_q8(g)) + aligned(g.oc * g.col_rows())) *
         static_cast<size_t>(threads);
}

// A conv's input as the kernels read it: x itself for a 'valid' conv whose
// rows are computed in place (rows mode reads nothing past the image), else
// the copy padded into `buffer`.
struct Source {
  const float* data;
  int64_t plane, wp;
};
Source source(const ConvGeometry& g, const float* x, bool rows_mode, const Padded& in, float* buffer) {
  if (rows_mode && g.pad_top == 0 && g.pad_left == 0 && g.h == in.hp && g.w == in.wp) return {x, g.h * g.w, g.w};
  pad_planes(x, g.h, g.w, g.pad_top, g.pad_left, in, buffer);
  return {buffer, in.plane(), in.wp};
}

void forward(const ConvGeometry& g, int64_t batch, const float* x, const float* w, const float* b, float* y,
             float* scratch, ThreadPool& pool, bool relu) {
  const Padded in = forward_input(g);
  const bool rows_mode = g.ow % 8 == 0;  // no garbage columns, output written in place
  const Kernels kern = kernels();
  float* packed = scratch;
  pack_weights(g.oc, g.c, g.kh, g.kw, kern.rows, [&](int64_t o, int64_t c, int64_t i, int64_t j) {
    return w[((o * g.c + c) * g.kh + i) * g.kw + j];
  }, packed);
  float* per_thread = scratch + aligned(g.oc * g.col_rows());
  const size_t stride = aligned(in.floats()) + aligned(g.oc * in.nq_tiles);
  if (rows_mode && batch < pool.size()) {
    // Fewer images than threads (one-image inference): split each image's
    // output rows between the threads instead, in whole register tiles.
    const int64_t parts = pool.size(), pairs = (g.oh * (g.ow / 8) + 1) / 2;
    pool.parallel_for(batch * parts, [&](int64_t k0, int64_t k1, int t) {
      float* xp = per_thread + stride * static_cast<size_t>(t);
      for (int64_t k = k0; k < k1; ++k) {
        const int64_t n = k / parts, part = k % parts;
        const Source src = source(g, x + n * g.c * g.h * g.w, rows_mode, in, xp);
        const Runs runs = row_runs(g.oh, g.ow, src.wp);
        const int64_t v0 = 2 * (pairs * part / parts), v1 = std::min(runs.vectors(), 2 * (pairs * (part + 1) / parts));
        kern.valid(src.data, g.c, src.plane, src.wp, runs, packed, g.oc, g.kh, g.kw, b, relu,
                y + n * g.oc * g.out_pixels(), g.out_pixels(), v0, v1);
      }
    });
    return;
  }
  pool.parallel_for(batch, [&](int64_t n0, int64_t n1, int t) {
    float* xp = per_thread + stride * static_cast<size_t>(t);
    float* wide = xp + aligned(in.floats());
    for (int64_t n = n0; n < n1; ++n) {
      const Source src = source(g, x + n * g.c * g.h * g.w, rows_mode, in, xp);
      float* yn = y + n * g.oc * g.out_pixels();
      if (rows_mode) {
        kern.valid(src.data, g.c, src.plane, src.wp, row_runs(g.oh, g.ow, src.wp), packed, g.oc, g.kh, g.kw, b, relu, yn,
                g.out_pixels(), 0, -1);
        continue;
      }
      kern.valid(src.data, g.c, src.plane, src.wp, wide_runs(in), packed, g.oc, g.kh, g.kw, nullptr, false, wide,
              in.nq_tiles, 0, -1);
      copy_out(wide, in, g.oc, g.oh, g.ow, b, relu, yn);
    }
  });
}

bool is_valid(const ConvGeometry& g) { return g.oh == g.h - g.kh + 1 && g.ow == g.w - g.kw + 1; }

void backward_input(const ConvGeometry& g, int64_t batch, const float* dy, const float* w, float* dx, float* scratch,
                    ThreadPool& pool) {
  // A 'valid' conv whose output width is a multiple of 8 scatters dy into dx
  // row by row (no padding, no garbage columns). Otherwise: dx[c][iy][ix] =
  // sum over o, i, j of w[o][c][i][j] dy[o][iy + pt - i][ix + pl - j], a valid
  // convolution of dy padded by (KH-1-pt, KW-1-pl) with the window flipped and
  // its channel axes swapped, in wide or rows mode.
  const bool scatter = is_valid(g) && g.ow % 8 == 0;
  const Padded in = backward_input_dy(g);
  const bool rows_mode = g.w % 8 == 0;
  const Kernels kern = kernels();
  float* packed = scratch;
  pack_weights(g.c, g.oc, g.kh, g.kw, kern.rows, [&](int64_t c, int64_t o, int64_t i, int64_t j) {
    return scatter ? w[((o * g.c + c) * g.kh + i) * g.kw + j]
                   : w[((o * g.c + c) * g.kh + (g.kh - 1 - i)) * g.kw + (g.kw - 1 - j)];
  }, packed);
  float* per_thread = scratch + aligned(g.oc * g.col_rows());
  const size_t stride = backward_input_thread_scratch(g);
  pool.parallel_for(batch, [&](int64_t n0, int64_t n1, int t) {
    float* dyp = per_thread + stride * static_cast<size_t>(t);
    float* wide = dyp + aligned(in.floats());
    float* sums = wide + aligned(g.c * in.nq_tiles);
    for (int64_t n = n0; n < n1; ++n) {
      float* dxn = dx + n * g.c * g.h * g.w;
      const float* dyn = dy + n * g.oc * g.out_pixels();
      if (scatter) {
        kern.scatter(dyn, g, packed, dxn, sums);
        continue;
      }
      pad_planes(dyn, g.oh, g.ow, g.kh - 1 - g.pad_top, g.kw - 1 - g.pad_left, in, dyp);
      if (rows_mode) {
        kern.valid(dyp, g.oc, in.plane(), in.wp, row_runs(g.h, g.w, in.wp), packed, g.c, g.kh, g.kw, nullptr, false, dxn,
                g.h * g.w, 0, -1);
        continue;
      }
      kern.valid(dyp, g.oc, in.plane(), in.wp, wide_runs(in), packed, g.c, g.kh, g.kw, nullptr, false, wide, in.nq_tiles, 0,
              -1);
      copy_out(wide, in, g.c, g.h, g.w, nullptr, false, dxn);
    }
  });
}

void backward_weight(const ConvGeometry& g, int64_t batch, const float* dy, const float* x, float* dw, float* scratch,
                     ThreadPool& pool) {
  const Padded in = forward_input(g);
  const bool rows_mode = g.ow % 8 == 0;  // dy read in place, no garbage columns
  const int64_t nq8 = wide_q8(g);
  const size_t dw_size = static_cast<size_t>(g.oc * g.col_rows());
  // Per thread: the padded input, dy in wide form (wide mode), the partial dw,
  // the AVX-512 kernel's dy (planned for either instruction set).
  const size_t stride = aligned(in.floats()) + 2 * aligned(g.oc * nq8) + aligned(g.oc * g.col_rows());
  auto partial = [&](int t) { return scratch + stride * static_cast<size_t>(t) + aligned(in.floats()) + aligned(g.oc * nq8); };
  const int threads = pool.size();
  const Kernels kern = kernels();
  for (int t = 0; t < threads; ++t) std::fill_n(partial(t), dw_size, 0.0f);
  pool.parallel_for(batch, [&](int64_t n0, int64_t n1, int t) {
    float* xp = scratch + stride * static_cast<size_t>(t);
    float* dy_wide = xp + aligned(in.floats());
    float* buffer = partial(t) + aligned(g.oc * g.col_rows());
    for (int64_t n = n0; n < n1; ++n) {
      const Source src = source(g, x + n * g.c * g.h * g.w, rows_mode, in, xp);
      const float* dyn = dy + n * g.oc * g.out_pixels();
      if (rows_mode) {
        kern.weight(dyn, g.out_pixels(), row_runs(g.oh, g.ow, src.wp), src.data, g.c, src.plane, src.wp, g.oc, g.kh, g.kw,
                    partial(t), buffer);
        continue;
      }
      widen(dyn, g, in.wp, nq8, dy_wide);
      kern.weight(dy_wide, nq8, Runs{1, nq8, 0, 0}, src.data, g.c, src.plane, src.wp, g.oc, g.kh, g.kw, partial(t),
                  buffer);
    }
  });
  sum_thread_partials(threads, dw_size, partial, dw);
}

}  // namespace gg::cpu::direct
