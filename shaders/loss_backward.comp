#version 450
// The backward ops of the mean-reduced losses, one invocation per item on a
// 2-D grid of 256-wide groups (flat_index); scale = dloss / divisor (the
// batch, or bce's element count), as on the CPU.
//   mode 0 softmax_cross_entropy_soft wrt logits, item = row of [rows, cols]:
//          out = (softmax(x) - t) * scale
//   mode 1 ... wrt targets, item = row:  out = (logsumexp(x) - x) * scale
//   mode 2 bce_with_logits wrt logits, item = element: out = (sigmoid(x) - t) * scale
//   mode 3 ... wrt targets, item = element:            out = -x * scale
//   mode 4 nll_loss_backward, item = element of [rows, cols]:
//          out = -scale at [row, label], else 0
// Binding 1 holds the targets (f32 bits) or the labels (i32), read as uint.
// A label outside [0, cols) writes 1 to status (that row is then all 0).
layout(local_size_x = 256) in;

#extension GL_GOOGLE_include_directive : require
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufT { uint tb[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufDloss { float dloss; };
layout(std430, set = 0, binding = 3) writeonly buffer BufOut { float o[]; };
layout(std430, set = 0, binding = 4) writeonly buffer BufStatus { uint status; };

layout(push_constant) uniform Push {
  uint items;    // invocations that do work
  uint row;      // invocations per grid row (flat_index)
  uint cols;
  uint divisor;  // the batch, or the element count
  uint mode;
} p;

void main() {
  const uint it = flat_index(p.row);
  if (it >= p.items) return;
  const float scale = dloss / float(p.divisor);
  if (p.mode <= 1u) {
    const uint base = it * p.cols;
    float m = x[base];
    for (uint j = 1; j < p.cols; ++j) m = max(m, x[base + j]);
    float s = 0.0;
    for (uint j = 0; j < p.cols; ++j) s += exp(x[base + j] - m);
    if (p.mode == 0u) {
      const float inv = 1.0 / s;
      for (uint j = 0; j < p.cols; ++j) o[base + j] = (exp(x[base + j] - m) * inv - uintBitsToFloat(tb[base + j])) * scale;
    } else {
      const float lse = log(s) + m;
      for (uint j = 0; j < p.cols; ++j) o[base + j] = (lse - x[base + j]) * scale;
    }
  } else if (p.mode == 2u) {
    const float v = x[it];
    const float e = exp(-abs(v));  // no overflow on either side
    const float sig = v >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    o[it] = (sig - uintBitsToFloat(tb[it])) * scale;
  } else if (p.mode == 3u) {
    o[it] = -x[it] * scale;
  } else {
    const uint r = it / p.cols, j = it % p.cols;
    const int label = int(tb[r]);
    if (label < 0 || label >= int(p.cols)) status = 1u;
    o[it] = int(j) == label ? -scale : 0.0;
  }
}
