#version 450
// Batch normalization's training dx over [N, C, inner], from the reduction
// red [4,C] (sum dy * xhat, sum dy, mean, variance; batch_norm_finish.comp):
//   dx = gamma / std * (dy - sum(dy) / M - (x - mean) / std * sum(dy * xhat) / M)
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufDy { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufGamma { float gamma[]; };
layout(std430, set = 0, binding = 3) readonly buffer BufRed { float red[]; };
layout(std430, set = 0, binding = 4) writeonly buffer BufDx { float dx[]; };

layout(push_constant) uniform Push {
  uint count, row, inner, channels;
  float per;  // 1 / M
  float epsilon;
} p;

void main() {
  const uint i = flat_index(p.row);
  if (i >= p.count) return;
  const uint c = p.channels, k = (i / p.inner) % c;
  const float inv = 1.0 / sqrt(red[3 * c + k] + p.epsilon);
  const float scale = gamma[k] * inv;
  dx[i] = scale * (dy[i] - red[c + k] * p.per - (x[i] - red[2 * c + k]) * inv * (red[k] * p.per));
}
