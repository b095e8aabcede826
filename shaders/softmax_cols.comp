#version 450
// softmax, log_softmax and their backward ops along an axis that is not the
// last: x viewed as [outer, cols, inner], one invocation per (outer, inner)
// column, which walks its cols elements (stride inner) serially; neighbouring
// invocations read neighbouring addresses. A 2-D grid of 256-wide groups
// (flat_index). Modes (a: x or dy, b: y, unused forward: bind any buffer):
//   0 softmax:               out = exp(x - max) / sum
//   1 log_softmax:           out = (x - max) - log(sum)
//   2 softmax_backward:      out = y * (dy - <dy, y>)
//   3 log_softmax_backward:  out = dy - exp(y) * sum(dy)
// (The last axis, contiguous rows: softmax.comp and softmax_backward.comp.)
layout(local_size_x = 256) in;

#extension GL_GOOGLE_include_directive : require
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufA { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer BufOut { float o[]; };

layout(push_constant) uniform Push {
  uint count;  // outer * inner columns
  uint row;    // invocations per grid row (flat_index)
  uint cols, inner, mode;
} p;

void main() {
  const uint col = flat_index(p.row);
  if (col >= p.count) return;
  const uint base = (col / p.inner) * p.cols * p.inner + col % p.inner;
  const uint s = p.inner;
  if (p.mode <= 1u) {
    float m = a[base];
    for (uint j = 1; j < p.cols; ++j) m = max(m, a[base + j * s]);
    float sum = 0.0;
    for (uint j = 0; j < p.cols; ++j) sum += exp(a[base + j * s] - m);
    if (p.mode == 0u) {
      const float inv = 1.0 / sum;
      for (uint j = 0; j < p.cols; ++j) o[base + j * s] = exp(a[base + j * s] - m) * inv;
    } else {
      const float ls = log(sum);
      for (uint j = 0; j < p.cols; ++j) o[base + j * s] = (a[base + j * s] - m) - ls;
    }
  } else {
    float acc = 0.0;
    for (uint j = 0; j < p.cols; ++j) acc += p.mode == 2u ? a[base + j * s] * b[base + j * s] : a[base + j * s];
    if (p.mode == 2u)
      for (uint j = 0; j < p.cols; ++j) o[base + j * s] = b[base + j * s] * (a[base + j * s] - acc);
    else
      for (uint j = 0; j < p.cols; ++j) o[base + j * s] = a[base + j * s] - exp(b[base + j * s]) * acc;
  }
}
