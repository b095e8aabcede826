#version 450
// The mean-reduced losses, in a single workgroup (dispatch 1x1x1): each
// invocation takes items lid, lid + 256, ..., then a shared-memory tree adds
// the partial sums; out = sum / items (0 for no items, as on the CPU).
//   mode 0 softmax_cross_entropy_soft: items = rows of x, t [rows, cols]:
//          sum_j t * (logsumexp(x_row) - x)
//   mode 1 bce_with_logits: items = elements (cols 1): max(x,0) - x t + log1p(exp(-|x|))
//   mode 2 nll_loss: items = rows of x [rows, cols], i32 labels [rows]: -x[row, label]
// Binding 1 holds the targets (f32 bits) or the labels (i32), read as uint.
// A label outside [0, cols) writes 1 to status (and the row is skipped).
layout(local_size_x = 256) in;

#extension GL_GOOGLE_include_directive : require
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufT { uint tb[]; };
layout(std430, set = 0, binding = 2) writeonly buffer BufOut { float o; };
layout(std430, set = 0, binding = 3) writeonly buffer BufStatus { uint status; };

layout(push_constant) uniform Push {
  uint rows, cols, mode;
} p;

shared float part[256];

void main() {
  const uint lid = gl_LocalInvocationID.x;
  float l = 0.0;
  for (uint r = lid; r < p.rows; r += 256) {
    const uint base = r * p.cols;
    if (p.mode == 0u) {
      float m = x[base];
      for (uint j = 1; j < p.cols; ++j) m = max(m, x[base + j]);
      float s = 0.0;
      for (uint j = 0; j < p.cols; ++j) s += exp(x[base + j] - m);
      const float lse = log(s) + m;
      for (uint j = 0; j < p.cols; ++j) l += uintBitsToFloat(tb[base + j]) * (lse - x[base + j]);
    } else if (p.mode == 1u) {
      const float v = x[r];
      l += max(v, 0.0) - v * uintBitsToFloat(tb[r]) + log1p(exp(-abs(v)));
    } else {
      const int label = int(tb[r]);
      if (label < 0 || label >= int(p.cols)) {
        status = 1u;
        continue;
      }
      l -= x[base + uint(label)];
    }
  }
  part[lid] = l;
  barrier();
  for (uint k = 128; k > 0; k >>= 1) {
    if (lid < k) part[lid] += part[lid + k];
    barrier();
  }
  if (lid == 0) o = p.rows == 0u ? 0.0 : part[0] / float(p.rows);
}
