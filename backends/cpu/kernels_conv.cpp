// conv2d forward and backward on the CPU, images spread over the pool.
// Stride-1 convolutions with enough channels take the direct kernels of
// conv_direct.h; the rest use per-image im2col + sgemm: per image,
// y[OC, OH*OW] = W[OC, C*KH*KW] x col, which is already NCHW, so no transpose
// is needed; col is built in chunks of output rows that fit in L2 (chunk_rows).
#include <algorithm>
#include <cstring>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include <graphgrad/ops/conv_geometry.h>

#include "conv_direct.h"
#include "gemm.h"
#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::cpu {
namespace {
using ops::ConvGeometry;

// A short run of floats: an inline loop on restrict pointers, which the
// compiler turns into a few vector moves; a memcpy call per run cost more
// than the copy itself (the runs are OW floats long).
// (Written with intrinsics where AVX is on: GCC turns the plain loop back
// into a memmove call.)
inline void copy_run(float* __restrict dst, const float* __restrict src, int64_t n) {
  int64_t k = 0;
#if defined(__AVX__)
  for (; k + 8 <= n; k += 8) _mm256_storeu_ps(dst + k, _mm256_loadu_ps(src + k));
  for (; k + 4 <= n; k += 4) _mm_storeu_ps(dst + k, _mm_loadu_ps(src + k));
#endif
  for (; k < n; ++k) dst[k] = src[k];
}
inline void add_run(float* __restrict dst, const float* __restrict src, int64_t n) {
  int64_t k = 0;
#if defined(__AVX__)
  for (; k + 8 <= n; k += 8) _mm256_storeu_ps(dst + k, _mm256_add_ps(_mm256_loadu_ps(dst + k), _mm256_loadu_ps(src + k)));
#endif
  for (; k < n; ++k) dst[k] += src[k];
}
inline void zero_run(float* __restrict dst, int64_t n) {
  for (int64_t k = 0; k < n; ++k) dst[k] = 0.0f;
}

// The output rows [oy0, oy1) of im2col, a chunk with (oy1 - oy0) * OW columns:
// col[(c*KH+i)*KW+j][(oy-oy0)*OW+ox] = x[c][oy*s-pt+i][ox*s-pl+j] (zero outside).
void im2col(const ConvGeometry& g, const float* x, float* col, int64_t oy0, int64_t oy1) {
  const int64_t cols = (oy1 - oy0) * g.ow, ow = g.ow, h = g.h, w = g.w;
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        float* row = col + ((c * g.kh + i) * g.kw + j) * cols;
        const float* xc = x + c * h * w;
        if (g.stride == 1) {
          // ox valid where 0 <= ox - pl + j < W: the same [lo, hi) for every oy.
          const int64_t lo = std::clamp<int64_t>(g.pad_left - j, 0, ow);
          const int64_t hi = std::clamp<int64_t>(w + g.pad_left - j, lo, ow);
          const int64_t shift = j - g.pad_left;
          for (int64_t oy = oy0; oy < oy1; ++oy) {
            float* dst = row + (oy - oy0) * ow;
            const int64_t iy = oy - g.pad_top + i;
            if (iy < 0 || iy >= h) {
              zero_run(dst, ow);
              continue;
            }
            zero_run(dst, lo);
            copy_run(dst + lo, xc + iy * w + lo + shift, hi - lo);
            zero_run(dst + hi, ow - hi);
          }
          continue;
        }
        for (int64_t oy = oy0; oy < oy1; ++oy) {
          float* dst = row + (oy - oy0) * ow;
          const int64_t iy = oy * g.stride - g.pad_top + i;
          if (iy < 0 || iy >= h) {
            zero_run(dst, ow);
            continue;
          }
          for (int64_t ox = 0; ox < ow; ++ox) {
            const int64_t ix = ox * g.stride - g.pad_left + j;
            dst[ox] = (ix >= 0 && ix < w) ? xc[iy * w + ix] : 0.0f;
          }
        }
      }
}

// The adjoint of im2col for output rows [oy0, oy1): dx += scatter(dcol chunk).
void col2im(const ConvGeometry& g, const float* col, float* dx, int64_t oy0, int64_t oy1) {
  const int64_t cols = (oy1 - oy0) * g.ow;
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const float* row = col + ((c * g.kh + i) * g.kw + j) * cols;
        for (int64_t oy = oy0; oy < oy1; ++oy) {
          const int64_t iy = oy * g.stride - g.pad_top + i;
          if (iy < 0 || iy >= g.h) continue;
          float* dst = dx + (c * g.h + iy) * g.w;
          const float* src = row + (oy - oy0) * g.ow;
          if (g.stride == 1) {  // a contiguous, branch-free (vectorisable) range
            const int64_t lo = std::clamp<int64_t>(g.pad_left - j, 0, g.ow);
            const int64_t hi = std::clamp<int64_t>(g.w + g.pad_left - j, lo, g.ow);
            float* d = dst - g.pad_left + j;
            add_run(d + lo, src + lo, hi - lo);
            continue;
          }
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const int64_t ix = ox * g.stride - g.pad_left + j;
            if (ix >= 0 && ix < g.w) dst[ix] += src[ox];
          }
        }
      }
}

// im2col works in chunks of whole output rows whose columns fit in about
// 192 KiB, so a chunk stays in L2 between being written and being read by the
// GEMM (conv2d_2 of the MNIST net: 8 of 24 rows, 221 KiB, instead of 663 KiB).
constexpr int64_t kChunkBytes = 192 * 1024;
int64_t chunk_rows(const ConvGeometry& g) {
  return std::clamp<int64_t>(kChunkBytes / 4 / std::max<int64_t>(1, g.col_rows() * g.ow), 1, g.oh);
}
size_t col_floats(const ConvGeometry& g) { return static_cast<size_t>(g.col_rows() * chunk_rows(g) * g.ow); }
// Rounded up to 64 bytes so each thread's slice starts on a cache line.
size_t aligned(size_t floats) { return (floats + 15) / 16 * 16; }

size_t conv_forward_scratch(const Graph&, const Node& n, int64_t, int threads) {
  const ConvGeometry g = ops::conv_geometry(n.attrs);
  if (direct::applicable(g)) return direct::forward_scratch(g, threads);
  return aligned(col_floats(g)) * static_cast<size_t>(threads);
}

size_t conv_backward_input_scratch(const Graph&, const Node& n, int64_t, int threads) {
  const ConvGeometry g = ops::conv_geometry(n.attrs);
  if (direct::applicable(g)) return direct::backward_input_scratch(g, threads);
  return aligned(col_floats(g)) * static_cast<size_t>(threads);
}

void conv2d_forward(const KernelArgs& a) {
  const ConvGeometry g = ops::conv_geometry(a.node->attrs);
  if (direct::applicable(g))
    return direct::forward(g, a.batch, a.input(0), a.input(1), a.node->inputs.size() == 3 ? a.input(2) : nullptr, a.out,
                           a.scratch, *a.pool, a.relu_epilogue);
  const bool relu = a.relu_epilogue;
  const float* x = a.input(0);
  const float* w = a.input(1);
  const float* b = a.node->inputs.size() == 3 ? a.input(2) : nullptr;
  const size_t col_size = aligned(col_floats(g));
  const bool direct = g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad_top == 0 && g.pad_left == 0;
  const int64_t rows = chunk_rows(g);
  a.pool->parallel_for(a.batch, [&](int64_t n0, int64_t n1, int t) {
    float* col = a.scratch + col_size * static_cast<size_t>(t);
    for (int64_t n = n0; n < n1; ++n) {
      const float* xn = x + n * g.c * g.h * g.w;
      float* yn = a.out + n * g.oc * g.out_pixels();
      if (b)
        for (int64_t o = 0; o < g.oc; ++o) std::fill(yn + o * g.out_pixels(), yn + (o + 1) * g.out_pixels(), b[o]);
      if (direct) {
        sgemm1(false, false, g.oc, g.out_pixels(), g.col_rows(), 1.0f, w, g.col_rows(), xn, g.out_pixels(),
               b ? 1.0f : 0.0f, yn, g.out_pixels());
      } else {
        for (int64_t oy0 = 0; oy0 < g.oh; oy0 += rows) {
          const int64_t oy1 = std::min(g.oh, oy0 + rows), cols = (oy1 - oy0) * g.ow;
          im2col(g, xn, col, oy0, oy1);
          sgemm1(false, false, g.oc, cols, g.col_rows(), 1.0f, w, g.col_rows(), col, cols, b ? 1.0f : 0.0f,
                 yn + oy0 * g.ow, g.out_pixels());
        }
      }
      if (relu)  // the image's output is still in cache; as the relu kernel: std::max(v, 0)
        for (int64_t i = 0; i < g.oc * g.out_pixels(); ++i) yn[i] = std::max(yn[i], 0.0f);
    }
  });
}

// dcol = W^T dy_n, then col2im into dx_n.
void conv2d_backward_input(const KernelArgs& a) {
  const ConvGeometry g = ops::conv_geometry(a.node->attrs);
  if (direct::applicable(g)) return direct::backward_input(g, a.batch, a.input(0), a.input(1), a.out, a.scratch, *a.pool);
  const float* dy = a.input(0);
  const float* w = a.input(1);
  const size_t col_size = aligned(col_floats(g));
  const int64_t rows = chunk_rows(g);
  a.pool->parallel_for(a.batch, [&](int64_t n0, int64_t n1, int t) {
    float* col = a.scratch + col_size * static_cast<size_t>(t);
    for (int64_t n = n0; n < n1; ++n) {
      float* dxn = a.out + n * g.c * g.h * g.w;
      std::fill(dxn, dxn + g.c * g.h * g.w, 0.0f);
      for (int64_t oy0 = 0; oy0 < g.oh; oy0 += rows) {
        const int64_t oy1 = std::min(g.oh, oy0 + rows), cols = (oy1 - oy0) * g.ow;
        sgemm1(true, false, g.col_rows(), cols, g.oc, 1.0f, w, g.col_rows(), dy + n * g.oc * g.out_pixels() + oy0 * g.ow,
               g.out_pixels(), 0.0f, col, cols);
        col2im(g, col, dxn, oy0, oy1);
      }
    }
  });
}

size_t conv_backward_weight_scratch(const Graph&, const Node& n, int64_t, int threads) {
  const ConvGeometry g = ops::conv_geometry(n.attrs);
  if (direct::applicable(g)) return direct::backward_weight_scratch(g, threads);
  return (aligned(col_floats(g)) + aligned(static_cast<size_t>(g.oc * g.col_rows()))) * static_cast<size_t>(threads);
}

// dW = sum_n dy_n col_n^T: each thread sums its images into a private dW,
// then the private sums are added in thread order (deterministic for a given
// thread count).
void conv2d_backward_weight(const KernelArgs& a) {
  const ConvGeometry g = ops::conv_geometry(a.node->attrs);
  if (direct::applicable(g)) return direct::backward_weight(g, a.batch, a.input(0), a.input(1), a.out, a.scratch, *a.pool);
  const float* dy = a.input(0);
  const float* x = a.input(1);
  const size_t col_size = aligned(col_floats(g));
  const size_t dw_size = static_cast<size_t>(g.oc * g.col_rows());
  const int threads = a.pool->size();
  float* partial = a.scratch + col_size * static_cast<size_t>(threads);
  std::fill(partial, partial + aligned(dw_size) * static_cast<size_t>(threads), 0.0f);
  const int64_t rows = chunk_rows(g);
  a.pool->parallel_for(a.batch, [&](int64_t n0, int64_t n1, int t) {
    float* col = a.scratch + col_size * static_cast<size_t>(t);
    float* dw = partial + aligned(dw_size) * static_cast<size_t>(t);
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t oy0 = 0; oy0 < g.oh; oy0 += rows) {
        const int64_t oy1 = std::min(g.oh, oy0 + rows), cols = (oy1 - oy0) * g.ow;
        im2col(g, x + n * g.c * g.h * g.w, col, oy0, oy1);
        sgemm1(false, true, g.oc, g.col_rows(), cols, 1.0f, dy + n * g.oc * g.out_pixels() + oy0 * g.ow, g.out_pixels(),
               col, cols, 1.0f, dw, g.col_rows());
      }
  });
  sum_thread_partials(threads, dw_size, [&](int t) { return partial + aligned(dw_size) * static_cast<size_t>(t); }, a.out);
}

// db[c] = sum over n and every axis after 1 of dy[n][c][...]. Each plane is
// summed in 16 float lanes (independent chains the compiler vectorises; one
// running sum is a chain of dependent adds), the lanes in a fixed order, the
// planes in double: deterministic, and for any thread count.
void bias_grad(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), c = a.in_dim(0, 1);
  const int64_t inner = n ? a.in_numel(0) / (n * c) : 0;
  const float* dy = a.input(0);
  float* out = a.out;
  constexpr int kLanes = 16;
  a.pool->parallel_for(c, [=](int64_t c0, int64_t c1, int) {
    for (int64_t k = c0; k < c1; ++k) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float* p = dy + (i * c + k) * inner;
        float lane[kLanes] = {};
        int64_t j = 0;
        for (; j + kLanes <= inner; j += kLanes)
          for (int l = 0; l < kLanes; ++l) lane[l] += p[j + l];
        float part = 0;
        for (; j < inner; ++j) part += p[j];
        for (int l = 0; l < kLanes; ++l) part += lane[l];
        s += part;
      }
      out[k] = static_cast<float>(s);
    }
  });
}

const KernelEntry kEntries[] = {
    {ops::id::conv2d, conv2d_forward, conv_forward_scratch},
    {ops::id::conv2d_backward_input, conv2d_backward_input, conv_backward_input_scratch},
    {ops::id::conv2d_backward_weight, conv2d_backward_weight, conv_backward_weight_scratch},
    {ops::id::bias_grad, bias_grad, nullptr},
};
}  // namespace

KernelTable conv_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
