#version 450
// out[i] = (accumulate ? out[i] : 0) + sum over n < batch of in[n*len + i], summed in
// n order: the deterministic reduction of per-image partial products
// (conv2d_backward_weight), without float atomics.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufIn { float src[]; };
layout(std430, set = 0, binding = 1) buffer BufOut { float dst[]; };

layout(push_constant) uniform Push {
  uint len, batch, accumulate;
} p;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.len; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    float s = p.accumulate != 0 ? dst[i] : 0.0;
    for (uint n = 0; n < p.batch; ++n) s += src[n * p.len + i];
    dst[i] = s;
  }
}
