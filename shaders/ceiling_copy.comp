#version 450
// bench_roofline's vulkan/bandwidth/copy: dst = src, vec4 by vec4, src read
// through a texel buffer and dst written to a storage buffer, as an
// element-wise kernel does on CPU devices. Indexing as in ceiling_read.comp.
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) writeonly buffer Dst { vec4 dst[]; };
TEXEL_INPUT4(0, src, 1)
layout(push_constant) uniform Push {
  uint steps;  // vec4s each invocation copies; under 65,535
} p;

void main() {
  const uint base = gl_WorkGroupID.x * 64u * p.steps + gl_LocalInvocationID.x;
  for (uint k = 0u; k < p.steps; ++k) dst[base + k * 64u] = FETCH4(src, base + k * 64u);
}
