#version 450
// conv2d_backward_input as a direct convolution (no column buffer), for CPU
// implementations such as lavapipe:
//   dx[n][c][y][x] = sum over (i, j, o) of w[o][c][i][j] * dy[n][o][oy][ox]
//                    with oy*s - pt + i == y, ox*s - pl + j == x,
// summed in (i, j, o) order from 0. Each invocation computes CB input
// channels x PB consecutive input pixels (flattened over images); a
// workgroup shares its channel block (y), so its weights are uniform: CB/4
// vec4 fetches per (tap, o) from the re-laid wt[tap][o][c]
// (conv_weights_t.comp); dy is gathered. Both through texel buffers.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
#include "texel.glsl"
#include "conv_push.glsl"

const uint CB = 16, PB = 8;

layout(std430, set = 0, binding = 0) writeonly buffer BufDx { float dx[]; };
TEXEL_INPUT(0, DY, 1)
TEXEL_INPUT4(1, WT, 2)  // conv_weights_t.comp's mode 1: wt[tap][o][c], rows of C rounded up to CB

void main() {
  const uint hw = p.h * p.w, total = p.n * hw, opix = p.oh * p.ow;
  const uint q0 = (block_index() * 64 + gl_LocalInvocationID.x) * PB;
  if (q0 >= total) return;
  const uint c0 = gl_WorkGroupID.y * CB, taps = p.kh * p.kw;
  const int s = p.stride;
  int ty[PB], tx[PB], base[PB];  // ty = oy*s + i, tx = ox*s + j
  for (uint q = 0; q < PB; ++q) {
    const uint qi = min(q0 + q, total - 1), img = qi / hw, pix = qi - img * hw;
    const uint yy = pix / p.w, xx = pix - yy * p.w;
    ty[q] = int(yy) + p.pad_top;
    tx[q] = int(xx) + p.pad_left;
    base[q] = int(img * p.oc * opix);
  }
  const uint row4 = (p.c + CB - 1) / CB * (CB / 4), col4 = c0 / 4;
  float acc[CB][PB];
  for (uint k = 0; k < CB; ++k)
    for (uint q = 0; q < PB; ++q) acc[k][q] = 0.0;
  for (uint i = 0; i < p.kh; ++i)
    for (uint j = 0; j < p.kw; ++j) {
      int at[PB];
      bool hit[PB];
      for (uint q = 0; q < PB; ++q) {
        const int ny = ty[q] - int(i), nx = tx[q] - int(j);
        const int oy = ny / s, ox = nx / s;
        hit[q] = ny >= 0 && nx >= 0 && oy * s == ny && ox * s == nx && oy < int(p.oh) && ox < int(p.ow);
        at[q] = hit[q] ? base[q] + oy * int(p.ow) + ox : 0;
      }
      const uint tap = i * p.kw + j;
      for (uint o = 0; o < p.oc; ++o) {
        float dv[PB];
        for (uint q = 0; q < PB; ++q) {
          const float v = FETCH(DY, at[q] + int(o * opix));
          dv[q] = hit[q] ? v : 0.0;
        }
        vec4 wq[CB / 4];
        for (uint t = 0; t < CB / 4; ++t) wq[t] = FETCH4(WT, (tap * p.oc + o) * row4 + col4 + t);
        for (uint k = 0; k < CB; ++k) {
          const float wv = wq[k / 4][k % 4];
          for (uint q = 0; q < PB; ++q) acc[k][q] += wv * dv[q];
        }
      }
    }
  for (uint q = 0; q < PB; ++q) {
    if (q0 + q >= total) break;
    const uint img = (q0 + q) / hw, pix = q0 + q - img * hw;
    for (uint k = 0; k < CB; ++k) {
      if (c0 + k >= p.c) break;
      dx[(img * p.c + c0 + k) * hw + pix] = acc[k][q];
    }
  }
}
