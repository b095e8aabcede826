#version 450
// bench_roofline's vulkan/bandwidth/texel_read (this shader) and
// .../storage_read (ceiling_read_ssbo, the storage-buffer variant texel.glsl
// makes): a stream of vec4 reads. Workgroup g sums vec4s
// [g * 64 * steps, (g + 1) * 64 * steps), lane l reading l, l + 64, ...: one
// contiguous stream per workgroup (a CPU thread runs a workgroup) and
// neighbouring lanes on neighbouring vec4s (a GPU coalesces them). Each
// invocation writes its sum: one vec4 per `steps` read.
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) writeonly buffer Out { vec4 out_[]; };
TEXEL_INPUT4(0, src, 1)
layout(push_constant) uniform Push {
  uint steps;  // vec4s each invocation reads; under 65,535
} p;

void main() {
  const uint lane = gl_LocalInvocationID.x, base = gl_WorkGroupID.x * 64u * p.steps + lane;
  vec4 s = vec4(0);
  for (uint k = 0u; k < p.steps; ++k) s += FETCH4(src, base + k * 64u);
  out_[gl_GlobalInvocationID.x] = s;
}
