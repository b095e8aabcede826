// The geometry of a 2-D convolution or pooling window, derived once from the
// node's attributes and shapes, and shared by the shape rules and the kernels.
#pragma once
#include <cstdint>

#include <graphgrad/graph/graph.h>

namespace gg::ops {

struct ConvGeometry {
  int64_t c = 0, h = 0, w = 0;      // input channels and size
  int64_t oc = 0, kh = 0, kw = 0;   // output channels (pooling: = c) and window
  int64_t oh = 0, ow = 0;           // output size
  int64_t stride = 1, pad_top = 0, pad_left = 0;
  int64_t col_rows() const { return c * kh * kw; }  // rows of the im2col matrix
  int64_t out_pixels() const { return oh * ow; }
};

// attrs: "stride", "pad_top", "pad_left", "out_h", "out_w", plus the input
// shape [N,C,H,W] and the window [OC,C,KH,KW] as stored on conv nodes.
inline ConvGeometry conv_geometry(const Attrs& a) {
  const auto& x = a.ints("x_shape");
  const auto& w = a.ints("w_shape");
  ConvGeometry g;
  g.c = x[1], g.h = x[2], g.w = x[3];
  g.oc = w[0], g.kh = w[2], g.kw = w[3];
  g.oh = a.i("out_h"), g.ow = a.i("out_w");
  g.stride = a.i("stride"), g.pad_top = a.i("pad_top"), g.pad_left = a.i("pad_left");
  return g;
}

}  // namespace gg::ops
