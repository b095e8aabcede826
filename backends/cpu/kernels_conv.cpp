// conv2d forward and backward on the CPU: per-image im2col + sgemm, images
// spread over the pool. Per image, y[OC, OH*OW] = W[OC, C*KH*KW] x col, which
// is already NCHW, so no transpose is needed; col fits in L2 for MNIST shapes.
#include <algorithm>
#include <cstring>

#include <graphgrad/ops/conv_geometry.h>

#include "gemm.h"
#include "kernels.h"

namespace gg::cpu {
namespace {
using ops::ConvGeometry;

// col[(c*KH+i)*KW+j][oy*OW+ox] = x[c][oy*s-pt+i][ox*s-pl+j] (zero outside).
void im2col(const ConvGeometry& g, const float* x, float* col) {
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        float* row = col + ((c * g.kh + i) * g.kw + j) * g.out_pixels();
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          float* dst = row + oy * g.ow;
          const int64_t iy = oy * g.stride - g.pad_top + i;
          if (iy < 0 || iy >= g.h) {
            std::fill(dst, dst + g.ow, 0.0f);
            continue;
          }
          const float* src = x + (c * g.h + iy) * g.w;
          if (g.stride == 1) {
            // ox valid where 0 <= ox - pl + j < W
            const int64_t lo = std::clamp<int64_t>(g.pad_left - j, 0, g.ow);
            const int64_t hi = std::clamp<int64_t>(g.w + g.pad_left - j, lo, g.ow);
            std::fill(dst, dst + lo, 0.0f);
            std::memcpy(dst + lo, src + lo - g.pad_left + j, static_cast<size_t>(hi - lo) * sizeof(float));
            std::fill(dst + hi, dst + g.ow, 0.0f);
          } else {
            for (int64_t ox = 0; ox < g.ow; ++ox) {
              const int64_t ix = ox * g.stride - g.pad_left + j;
              dst[ox] = (ix >= 0 && ix < g.w) ? src[ix] : 0.0f;
            }
          }
        }
      }
}

// The adjoint of im2col: dx += scatter(dcol). dx must be zeroed first.
void col2im(const ConvGeometry& g, const float* col, float* dx) {
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const float* row = col + ((c * g.kh + i) * g.kw + j) * g.out_pixels();
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t iy = oy * g.stride - g.pad_top + i;
          if (iy < 0 || iy >= g.h) continue;
          float* dst = dx + (c * g.h + iy) * g.w;
          const float* src = row + oy * g.ow;
          if (g.stride == 1) {  // a contiguous, branch-free (vectorisable) range
            const int64_t lo = std::clamp<int64_t>(g.pad_left - j, 0, g.ow);
            const int64_t hi = std::clamp<int64_t>(g.w + g.pad_left - j, lo, g.ow);
            float* d = dst - g.pad_left + j;
            for (int64_t ox = lo; ox < hi; ++ox) d[ox] += src[ox];
            continue;
          }
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const int64_t ix = ox * g.stride - g.pad_left + j;
            if (ix >= 0 && ix < g.w) dst[ix] += src[ox];
          }
        }
      }
}

size_t col_floats(const ConvGeometry& g) { return static_cast<size_t>(g.col_rows() * g.out_pixels()); }
// Rounded up to 64 bytes so each thread's slice starts on a cache line.
size_t aligned(size_t floats) { return (floats + 15) / 16 * 16; }

size_t conv_forward_scratch(const Graph&, const Node& n, int64_t, int threads) {
  return aligned(col_floats(ops::conv_geometry(n.attrs))) * static_cast<size_t>(threads);
}

void conv2d_forward(const KernelArgs& a) {
  const ConvGeometry g = ops::conv_geometry(a.node->attrs);
  const float* x = a.input(0);
  const float* w = a.input(1);
  const float* b = a.node->inputs.size() == 3 ? a.input(2) : nullptr;
  const size_t col_size = aligned(col_floats(g));
  const bool direct = g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad_top == 0 && g.pad_left == 0;
  a.pool->parallel_for(a.batch, [&](int64_t n0, int64_t n1, int t) {
    float* col = a.scratch + col_size * static_cast<size_t>(t);
    for (int64_t n = n0; n < n1; ++n) {
      const float* xn = x + n * g.c * g.h * g.w;
      float* yn = a.out + n * g.oc * g.out_pixels();
      if (!direct) im2col(g, xn, col);
      if (b)
        for (int64_t o = 0; o < g.oc; ++o) std::fill(yn + o * g.out_pixels(), yn + (o + 1) * g.out_pixels(), b[o]);
      sgemm1(false, false, g.oc, g.out_pixels(), g.col_rows(), 1.0f, w, g.col_rows(), direct ? xn : col,
             g.out_pixels(), b ? 1.0f : 0.0f, yn, g.out_pixels());
    }
  });
}

// dcol = W^T dy_n, then col2im into dx_n.
void conv2d_backward_input(const KernelArgs& a) {
  const ConvGeometry g = ops::conv_geometry(a.node->attrs);
  const float* dy = a.input(0);
  const float* w = a.input(1);
  const size_t col_size = aligned(col_floats(g));
  a.pool->parallel_for(a.batch, [&](int64_t n0, int64_t n1, int t) {
    float* col = a.scratch + col_size * static_cast<size_t>(t);
    for (int64_t n = n0; n < n1; ++n) {
      float* dxn = a.out + n * g.c * g.h * g.w;
      sgemm1(true, false, g.col_rows(), g.out_pixels(), g.oc, 1.0f, w, g.col_rows(), dy + n * g.oc * g.out_pixels(),
             g.out_pixels(), 0.0f, col, g.out_pixels());
      std::fill(dxn, dxn + g.c * g.h * g.w, 0.0f);
      col2im(g, col, dxn);
    }
  });
}

size_t conv_backward_weight_scratch(const Graph& gr, const Node& n, int64_t mb, int threads) {
  const ConvGeometry g = ops::conv_geometry(n.attrs);
  return (aligned(col_floats(g)) + aligned(static_cast<size_t>(g.oc * g.col_rows()))) * static_cast<size_t>(threads);
}

// dW = sum_n dy_n col_n^T: each thread sums its images into a private dW,
// then the private sums are added in thread order (deterministic for a given
// thread count).
void conv2d_backward_weight(const KernelArgs& a) {
  const ConvGeometry g = ops::conv_geometry(a.node->attrs);
  const float* dy = a.input(0);
  const float* x = a.input(1);
  const size_t col_size = aligned(col_floats(g));
  const size_t dw_size = static_cast<size_t>(g.oc * g.col_rows());
  const int threads = a.pool->size();
  float* partial = a.scratch + col_size * static_cast<size_t>(threads);
  std::fill(partial, partial + aligned(dw_size) * static_cast<size_t>(threads), 0.0f);
  a.pool->parallel_for(a.batch, [&](int64_t n0, int64_t n1, int t) {
    float* col = a.scratch + col_size * static_cast<size_t>(t);
    float* dw = partial + aligned(dw_size) * static_cast<size_t>(t);
    for (int64_t n = n0; n < n1; ++n) {
      im2col(g, x + n * g.c * g.h * g.w, col);
      sgemm1(false, true, g.oc, g.col_rows(), g.out_pixels(), 1.0f, dy + n * g.oc * g.out_pixels(), g.out_pixels(), col,
             g.out_pixels(), 1.0f, dw, g.col_rows());
    }
  });
  std::copy(partial, partial + dw_size, a.out);
  for (int t = 1; t < threads; ++t) {
    const float* dw = partial + aligned(dw_size) * static_cast<size_t>(t);
    for (size_t i = 0; i < dw_size; ++i) a.out[i] += dw[i];
  }
}

// db[c] = sum over n and every axis after 1 of dy[n][c][...].
void bias_grad(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), c = a.in_dim(0, 1);
  const int64_t inner = n ? a.in_numel(0) / (n * c) : 0;
  const float* dy = a.input(0);
  a.pool->parallel_for(c, [&](int64_t c0, int64_t c1, int) {
    for (int64_t k = c0; k < c1; ++k) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float* p = dy + (i * c + k) * inner;
        float part = 0;
        for (int64_t j = 0; j < inner; ++j) part += p[j];
        s += part;
      }
      a.out[k] = static_cast<float>(s);
    }
  });
}

const KernelEntry kEntries[] = {
    {"conv2d", conv2d_forward, conv_forward_scratch},
    {"conv2d_backward_input", conv2d_backward_input, conv_forward_scratch},
    {"conv2d_backward_weight", conv2d_backward_weight, conv_backward_weight_scratch},
    {"bias_grad", bias_grad, nullptr},
};
}  // namespace

KernelTable conv_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
