#version 450
// Batch normalization's moving statistics, in place (Keras 3's formula):
//   moving = momentum * moving + (1 - momentum) * batch
// stats: the batch's mean [C] then biased variance [C] (batch_norm_finish.comp).
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufStats { float stats[]; };
layout(std430, set = 0, binding = 1) buffer BufMean { float moving_mean[]; };
layout(std430, set = 0, binding = 2) buffer BufVar { float moving_var[]; };

layout(push_constant) uniform Push {
  uint channels;
  float momentum;
} p;

void main() {
  const float m = p.momentum;
  for (uint k = gl_GlobalInvocationID.x; k < p.channels; k += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    moving_mean[k] = m * moving_mean[k] + (1.0 - m) * stats[k];
    moving_var[k] = m * moving_var[k] + (1.0 - m) * stats[p.channels + k];
  }
}
