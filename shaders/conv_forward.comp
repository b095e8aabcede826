#version 450
// conv2d forward as a direct convolution (no im2col column buffer), for CPU
// implementations such as lavapipe:
//   y[n][o][oy][ox] = sum over (c, i, j) of w[o][c][i][j] * x[n][c][oy*s - pt + i][ox*s - pl + j]
//                     (+ b[o]), x read as 0 outside the image,
// summed in (c, i, j) order from 0, the order of the im2col gemm, then + b,
// then, with p.relu, the relu op's where(y < 0, 0, y) (a relu fused into the conv).
// Each invocation computes OB output channels x PB consecutive output pixels
// (flattened over images); a workgroup shares its channel block (y), so its
// weights are uniform: OB/4 vec4 fetches per tap from the re-laid wt[r][o]
// (conv_weights_t.comp); x is gathered. Both through texel buffers (texel.glsl):
// on lavapipe the fetches, not the FMAs, bound the speed.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
#include "texel.glsl"
#include "conv_push.glsl"

const uint OB = 16, PB = 8;

layout(std430, set = 0, binding = 0) readonly buffer BufB { float bias[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufY { float y[]; };
TEXEL_INPUT(0, X, 2)
TEXEL_INPUT4(1, WT, 3)  // conv_weights_t.comp's mode 0: wt[r][o], rows of OC rounded up to OB

// Adds every tap to acc; `check` false (p.inside: no padding on any side, so
// every tap falls inside x) drops the bounds tests, and the compiler, inlining this
// with a constant, drops them from the loop.
void add_taps(const bool check, inout float acc[OB][PB], const int iy0[PB], const int ix0[PB], const int base[PB],
          const uint col4) {
  const uint hw = p.h * p.w, row4 = (p.oc + OB - 1) / OB * (OB / 4);
  for (uint c = 0; c < p.c; ++c)
    for (uint i = 0; i < p.kh; ++i)
      for (uint j = 0; j < p.kw; ++j) {
        const int shift = int(c * hw + i * p.w + j);
        float xv[PB];
        for (uint q = 0; q < PB; ++q) {
          const bool inside = !check || (uint(iy0[q] + int(i)) < p.h && uint(ix0[q] + int(j)) < p.w);
          const float v = FETCH(X, inside ? base[q] + shift : 0);
          xv[q] = inside ? v : 0.0;
        }
        const uint r = (c * p.kh + i) * p.kw + j;
        vec4 wq[OB / 4];
        for (uint t = 0; t < OB / 4; ++t) wq[t] = FETCH4(WT, r * row4 + col4 + t);
        for (uint o = 0; o < OB; ++o) {
          const float wv = wq[o / 4][o % 4];
          for (uint q = 0; q < PB; ++q) acc[o][q] += wv * xv[q];
        }
      }
}

void main() {
  const uint pixels = p.oh * p.ow, total = p.n * pixels;
  const uint q0 = (block_index() * 64 + gl_LocalInvocationID.x) * PB;
  if (q0 >= total) return;
  const uint o0 = gl_WorkGroupID.y * OB, hw = p.h * p.w, taps = p.kh * p.kw;
  int iy0[PB], ix0[PB], base[PB];
  for (uint q = 0; q < PB; ++q) {
    const uint qi = min(q0 + q, total - 1), img = qi / pixels, pix = qi - img * pixels;
    const uint oy = pix / p.ow, ox = pix - oy * p.ow;
    iy0[q] = int(oy) * p.stride - p.pad_top;
    ix0[q] = int(ox) * p.stride - p.pad_left;
    base[q] = int(img * p.c * hw) + iy0[q] * int(p.w) + ix0[q];
  }
  const uint col4 = o0 / 4;
  float acc[OB][PB];
  for (uint o = 0; o < OB; ++o)
    for (uint q = 0; q < PB; ++q) acc[o][q] = 0.0;
  if (p.inside != 0)
    add_taps(false, acc, iy0, ix0, base, col4);
  else
    add_taps(true, acc, iy0, ix0, base, col4);
  for (uint q = 0; q < PB; ++q) {
    if (q0 + q >= total) break;
    const uint img = (q0 + q) / pixels, pix = q0 + q - img * pixels;
    for (uint o = 0; o < OB; ++o) {
      if (o0 + o >= p.oc) break;
      float v = acc[o][q];
      if (p.bias != 0) v += bias[o0 + o];
      if (p.relu != 0) v = v < 0.0 ? 0.0 : v;
      y[(img * p.oc + o0 + o) * pixels + pix] = v;
    }
  }
}
