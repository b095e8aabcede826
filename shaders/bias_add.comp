#version 450
// y[i] += b[(i / inner) % channels]: a per-channel bias on [N, channels, inner].
// The gemm's epilogue adds conv2d's and dense's biases; this runs only after
// an empty product (dense with 0 inputs: zeros, then the bias).
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) buffer BufY { float y[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float b[]; };

layout(push_constant) uniform Push {
  uint count, inner, channels;
} p;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
    y[i] += b[(i / p.inner) % p.channels];
}
