// The copies into and out of the direct conv kernels' layouts (see
// conv_direct_internal.h): padded planes, the wide output, dy in wide form.
#include <cstring>
#include <limits>

#include "conv_direct_internal.h"

namespace gg::cpu::direct {
using ops::ConvGeometry;

// The input of a valid kh x kw convolution with `out_h` output rows over
// planes of width wp: nq = out_h * wp wide outputs, rounded up to whole tiles.
Padded padded(int64_t ch, int64_t hp, int64_t wp, int64_t out_h, int64_t kw) {
  Padded p{ch, hp, wp, out_h * wp, 0, 0};
  p.nq_tiles = round_up(p.nq, kTileQ);
  // The furthest load reads index ch*plane + (nq_tiles - nq) + kw - 2.
  p.slack = p.nq_tiles - p.nq + kw + 16;
  return p;
}

// Forward: the input padded by the conv's own padding.
Padded forward_input(const ConvGeometry& g) { return padded(g.c, g.oh + g.kh - 1, g.ow + g.kw - 1, g.oh, g.kw); }
// Input gradient: dy padded to a "full" convolution, whose valid output is dx.
Padded backward_input_dy(const ConvGeometry& g) { return padded(g.oc, g.h + g.kh - 1, g.w + g.kw - 1, g.h, g.kw); }

// dst = src (ch planes of h x w) placed at (top, left) in p's planes, zero elsewhere.
void pad_planes(const float* src, int64_t h, int64_t w, int64_t top, int64_t left, const Padded& p, float* dst) {
  for (int64_t c = 0; c < p.ch; ++c)
    for (int64_t r = 0; r < p.hp; ++r) {
      float* row = dst + c * p.plane() + r * p.wp;
      const int64_t sr = r - top;
      if (sr < 0 || sr >= h) {
        std::memset(row, 0, static_cast<size_t>(p.wp) * sizeof(float));
        continue;
      }
      std::memset(row, 0, static_cast<size_t>(left) * sizeof(float));
      std::memcpy(row + left, src + (c * h + sr) * w, static_cast<size_t>(w) * sizeof(float));
      std::memset(row + left + w, 0, static_cast<size_t>(p.wp - left - w) * sizeof(float));
    }
  std::memset(dst + p.ch * p.plane(), 0, static_cast<size_t>(p.slack) * sizeof(float));
}

// out[o][q] for q in [0, in.nq) (in wide form, row stride in.wp; columns past
// the valid width are garbage) = sum over taps and input channels.
void copy_out(const float* wide, const Padded& in, int64_t cout, int64_t out_h, int64_t out_w, const float* bias,
              bool relu, float* out) {
  // relu as the relu kernel computes it, std::max(v, 0.0f): v < floor ? 0 : v,
  // with floor = 0 (a NaN or -0 passes) or -inf (nothing is below it).
  const float floor = relu ? 0.0f : -std::numeric_limits<float>::infinity();
  for (int64_t o = 0; o < cout; ++o) {
    const float b = bias ? bias[o] : 0.0f;
    for (int64_t r = 0; r < out_h; ++r) {
      const float* src = wide + o * in.nq_tiles + r * in.wp;
      float* dst = out + (o * out_h + r) * out_w;
      for (int64_t k = 0; k < out_w; ++k) {
        const float v = src[k] + b;
        dst[k] = v < floor ? 0.0f : v;
      }
    }
  }
}

// dy[OC][OH][OW] in wide form: row stride wp, zero in the garbage columns and
// up to nq8 (so the weight kernel's sums see exactly the valid outputs).
void widen(const float* dy, const ConvGeometry& g, int64_t wp, int64_t nq8, float* wide) {
  for (int64_t o = 0; o < g.oc; ++o) {
    float* row = wide + o * nq8;
    for (int64_t r = 0; r < g.oh; ++r) {
      std::memcpy(row + r * wp, dy + (o * g.oh + r) * g.ow, static_cast<size_t>(g.ow) * sizeof(float));
      std::memset(row + r * wp + g.ow, 0, static_cast<size_t>(wp - g.ow) * sizeof(float));
    }
    std::memset(row + g.oh * wp, 0, static_cast<size_t>(nq8 - g.oh * wp) * sizeof(float));
  }
}

int64_t wide_q8(const ConvGeometry& g) { return round_up(g.oh * (g.ow + g.kw - 1), 8); }

}  // namespace gg::cpu::direct
