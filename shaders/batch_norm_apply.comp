#version 450
// Batch normalization's output over [N, C, inner]:
//   y = (x - mean[k]) * gamma[k] / sqrt(var[var_at + k] + eps) + beta[k]
// mean and var: the batch's (batch_norm_finish.comp's [2,C], var_at = C) or
// given ones (inference, var_at = 0).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufGamma { float gamma[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufBeta { float beta[]; };
layout(std430, set = 0, binding = 3) readonly buffer BufMean { float mean[]; };
layout(std430, set = 0, binding = 4) readonly buffer BufVar { float var[]; };
layout(std430, set = 0, binding = 5) writeonly buffer BufY { float y[]; };

layout(push_constant) uniform Push {
  uint count, row, inner, channels;
  uint var_at;
  float epsilon;
} p;

void main() {
  const uint i = flat_index(p.row);
  if (i >= p.count) return;
  const uint k = (i / p.inner) % p.channels;
  const float scale = gamma[k] * (1.0 / sqrt(var[p.var_at + k] + p.epsilon));
  y[i] = (x[i] - mean[k]) * scale + beta[k];
}
