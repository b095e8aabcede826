#version 450
// bt[c][r] = b[r][c] for b [rows][cols]: the blocked gemm's B when the op
// wants it transposed (gemm_v4.comp then reads its rows as aligned vec4s).
// One invocation per element of bt; b is gathered through a texel buffer.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "texel.glsl"

layout(std430, set = 0, binding = 0) writeonly buffer BufBt { float bt[]; };
TEXEL_INPUT(0, B, 1)

layout(push_constant) uniform Push {
  uint rows, cols;
} p;

void main() {
  const uint count = p.rows * p.cols;
  for (uint idx = gl_GlobalInvocationID.x; idx < count; idx += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint c = idx / p.rows, r = idx - c * p.rows;
    bt[idx] = FETCH(B, r * p.cols + c);
  }
}
