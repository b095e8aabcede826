// max_pool2d forward and backward, one (image, channel) plane per work item.
// The backward recomputes each window's arg-max (first maximum wins), the
// rule every backend follows.
#include <algorithm>

#include "kernels.h"

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

// inputs: dy, x
void max_pool2d_backward(const KernelArgs& a) {
  const PoolGeometry g = geometry(a, 1);
  const float* dy = a.input(0);
  const float* x = a.input(1);
  float* out = a.out;
  a.pool->parallel_for(g.planes, [=](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * g.h * g.w;
      const float* dyp = dy + p * g.oh * g.ow;
      float* dxp = out + p * g.h * g.w;
      if (g.p == 2 && g.s == 2) {
        // Disjoint windows: write each window whole in one pass (the gradient
        // on its first maximum, zeros elsewhere), then zero the odd row and
        // column no window covers.
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const float* r0 = xp + 2 * oy * g.w;
          const float* r1 = r0 + g.w;
          float* d0 = dxp + 2 * oy * g.w;
          float* d1 = d0 + g.w;
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const float a0 = r0[2 * ox], a1 = r0[2 * ox + 1], b0 = r1[2 * ox], b1 = r1[2 * ox + 1];
            // window_argmax's scan (first maximum wins, NaN never does), as selects
            int best = 0;
            float m = a0;
            best = a1 > m ? 1 : best, m = a1 > m ? a1 : m;
            best = b0 > m ? 2 : best, m = b0 > m ? b0 : m;
            best = b1 > m ? 3 : best;
            const float d = dyp[oy * g.ow + ox];
            d0[2 * ox] = best == 0 ? d : 0.0f;
            d0[2 * ox + 1] = best == 1 ? d : 0.0f;
            d1[2 * ox] = best == 2 ? d : 0.0f;
            d1[2 * ox + 1] = best == 3 ? d : 0.0f;
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
    {"max_pool2d", max_pool2d, nullptr},
    {"max_pool2d_backward", max_pool2d_backward, nullptr},
};
}  // namespace

KernelTable pool_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
