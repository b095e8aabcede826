#version 450
// conv2d_backward_weight's per-image partial products as a direct
// convolution (no column buffer), for CPU implementations such as lavapipe:
//   part[n][o][r] = sum over output pixels (oy, ox), in row-major order, of
//                   dy[off + n][o][oy][ox] * x[off + n][c][oy*s - pt + i][ox*s - pl + j]
// with r = (c*KH + i)*KW + j (x read as 0 outside the image): the gemm of
// dy_n and col_n^T, in the same order; reduce_batch.comp then sums the
// images in order. A workgroup owns OB output channels; each invocation one
// image's RB consecutive rows r. x and dy are gathered through texel buffers
// (texel.glsl).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 8) in;
#include "texel.glsl"
#include "conv_push.glsl"

const uint OB = 8, RB = 16;

layout(std430, set = 0, binding = 0) writeonly buffer BufPart { float part[]; };
TEXEL_INPUT(0, X, 1)
TEXEL_INPUT(1, DY, 2)

// Adds every output pixel to acc; `check` false (an unpadded convolution)
// drops the bounds tests, as in conv_forward.comp.
void add_pixels(const bool check, inout float acc[OB][RB], const int shift[RB], const int ti[RB], const int tj[RB],
            const uint drow[OB]) {
  for (uint oy = 0; oy < p.oh; ++oy) {
    const int iy = int(oy) * p.stride;
    for (uint ox = 0; ox < p.ow; ++ox) {
      const int ix = int(ox) * p.stride, at = iy * int(p.w) + ix;
      float xv[RB];
      for (uint t = 0; t < RB; ++t) {
        const bool inside = !check || (uint(iy + ti[t]) < p.h && uint(ix + tj[t]) < p.w);
        const float v = FETCH(X, inside ? shift[t] + at : 0);
        xv[t] = inside ? v : 0.0;
      }
      const uint px = oy * p.ow + ox;
      for (uint o = 0; o < OB; ++o) {
        const float dv = FETCH(DY, drow[o] + px);
        for (uint t = 0; t < RB; ++t) acc[o][t] += dv * xv[t];
      }
    }
  }
}

void main() {
  const uint taps = p.kh * p.kw, rows = p.c * taps, hw = p.h * p.w, opix = p.oh * p.ow;
  // Invocations walk (image, row block) pairs, row blocks fastest: every lane
  // has work even where the rows are few (a first layer's C*KH*KW = 9).
  const uint blocks = (rows + RB - 1) / RB, at = block_index() * 8 + gl_LocalInvocationID.x;
  if (at >= p.n * blocks) return;
  const uint img = at / blocks, r0 = (at - img * blocks) * RB, o0 = gl_WorkGroupID.y * OB;
  int shift[RB], ti[RB], tj[RB];
  for (uint t = 0; t < RB; ++t) {
    const uint r = min(r0 + t, rows - 1), c = r / taps, tap = r - c * taps, i = tap / p.kw, j = tap - i * p.kw;
    ti[t] = int(i) - p.pad_top;
    tj[t] = int(j) - p.pad_left;
    shift[t] = int((p.off + img) * p.c * hw + c * hw) + ti[t] * int(p.w) + tj[t];
  }
  uint drow[OB];
  for (uint o = 0; o < OB; ++o) drow[o] = ((p.off + img) * p.oc + min(o0 + o, p.oc - 1)) * opix;
  float acc[OB][RB];
  for (uint o = 0; o < OB; ++o)
    for (uint t = 0; t < RB; ++t) acc[o][t] = 0.0;
  if (p.inside != 0)
    add_pixels(false, acc, shift, ti, tj, drow);
  else
    add_pixels(true, acc, shift, ti, tj, drow);
  for (uint o = 0; o < OB; ++o) {
    if (o0 + o >= p.oc) break;
    for (uint t = 0; t < RB; ++t) {
      if (r0 + t >= rows) break;
      part[(img * p.oc + o0 + o) * rows + r0 + t] = acc[o][t];
    }
  }
}
