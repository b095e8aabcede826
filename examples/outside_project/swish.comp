#version 450
// The user op's Vulkan kernel: y = x * sigmoid(x). Binding 0 is the op's input,
// binding 1 its output (user_kernels.h); the push constants hold the count.
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { uint count; } p;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i < p.count) y[i] = x[i] / (1.0 + exp(-x[i]));
}
