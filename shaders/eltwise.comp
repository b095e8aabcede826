#version 450
// Element-wise ops on equal-length buffers, chosen by `op`:
//   0 relu:           out = max(a, 0)          (b unused; bind a twice)
//   1 relu_backward:  out = b > 0 ? a : 0      (a = dy, b = y)
//   2 add:            out = a + b
// out may alias a or b: each invocation reads its element before writing it.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufA { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer BufOut { float o[]; };

layout(push_constant) uniform Push {
  uint count, op;
} p;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const float x = a[i];
    float r;
    if (p.op == 0) r = x < 0.0 ? 0.0 : x;  // as std::max(x, 0.0f): NaN and -0 pass through
    else if (p.op == 1) r = b[i] > 0.0 ? x : 0.0;
    else r = x + b[i];
    o[i] = r;
  }
}
