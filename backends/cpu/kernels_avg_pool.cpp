// avg_pool2d forward and backward, one (image, channel) plane per work item.
// Each window divides by its count of real (non-padded) elements. The
// backward is a gather (each dx element sums dy / count over the windows that
// hold it, in (oy, ox) order), the order the Vulkan shader follows too.
#include <algorithm>

#include <graphgrad/ops/conv_geometry.h>
#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::cpu {
namespace {

// A window's rows (or columns) within the input, clipped to it: [lo, hi).
struct Span {
  int64_t lo, hi;
};
inline Span window(int64_t o, const ops::ConvGeometry& g, int64_t pad, int64_t size) {
  const int64_t start = o * g.stride - pad;
  return {std::max<int64_t>(start, 0), std::min<int64_t>(start + g.kh, size)};
}

// The outputs whose window holds input index i (along one axis): [lo, hi).
inline Span windows_of(int64_t i, const ops::ConvGeometry& g, int64_t pad, int64_t outs) {
  const int64_t t = i + pad;  // o*s <= t <= o*s + pool - 1
  const int64_t lo = t + 1 > g.kh ? (t + 1 - g.kh + g.stride - 1) / g.stride : 0;
  return {lo, std::min<int64_t>(t / g.stride + 1, outs)};
}

void avg_pool2d(const KernelArgs& a) {
  const ops::ConvGeometry g = ops::conv_geometry(a.node->attrs);
  const int64_t planes = a.in_dim(0, 0) * g.c;
  const float* x = a.input(0);
  float* out = a.out;
  a.pool->parallel_for(planes, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * g.h * g.w;
      float* yp = out + p * g.oh * g.ow;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const Span ry = window(oy, g, g.pad_top, g.h);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const Span rx = window(ox, g, g.pad_left, g.w);
          float sum = 0.0f;
          for (int64_t i = ry.lo; i < ry.hi; ++i)
            for (int64_t j = rx.lo; j < rx.hi; ++j) sum += xp[i * g.w + j];
          yp[oy * g.ow + ox] = sum / float((ry.hi - ry.lo) * (rx.hi - rx.lo));
        }
      }
    }
  }, 8);
}

// input: dy
void avg_pool2d_backward(const KernelArgs& a) {
  const ops::ConvGeometry g = ops::conv_geometry(a.node->attrs);
  const int64_t planes = a.in_dim(0, 0) * g.c;
  const float* dy = a.input(0);
  float* out = a.out;
  a.pool->parallel_for(planes, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* dyp = dy + p * g.oh * g.ow;
      float* dxp = out + p * g.h * g.w;
      for (int64_t iy = 0; iy < g.h; ++iy) {
        const Span wy = windows_of(iy, g, g.pad_top, g.oh);
        for (int64_t ix = 0; ix < g.w; ++ix) {
          const Span wx = windows_of(ix, g, g.pad_left, g.ow);
          float sum = 0.0f;
          for (int64_t oy = wy.lo; oy < wy.hi; ++oy) {
            const Span ry = window(oy, g, g.pad_top, g.h);
            for (int64_t ox = wx.lo; ox < wx.hi; ++ox) {
              const Span rx = window(ox, g, g.pad_left, g.w);
              sum += dyp[oy * g.ow + ox] / float((ry.hi - ry.lo) * (rx.hi - rx.lo));
            }
          }
          dxp[iy * g.w + ix] = sum;
        }
      }
    }
  }, 8);
}

const KernelEntry kEntries[] = {
    {ops::id::avg_pool2d, avg_pool2d, nullptr},
    {ops::id::avg_pool2d_backward, avg_pool2d_backward, nullptr},
};
}  // namespace

KernelTable avg_pool_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
