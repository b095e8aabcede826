#version 450
// Inverted dropout with the counter-based mask of ops/counter_rng.h, bit for
// bit: element i of this run has the global index sample_base * per_item + i
// (mod 2^32, like the CPU's uint32_t), the key is mix32(mix32(seed) ^ step),
// and the element is kept when (mix32(key ^ index) >> 8) >= threshold.
// uint arithmetic wraps mod 2^32 in GLSL exactly as uint32_t does in C++.
// Four elements per invocation, read and written as vec4s (a CPU device runs
// storage accesses per lane, so 4x fewer); the first invocation also takes
// the last count % 4. out may alias x: each element is read before written.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufStep { int step; };
layout(std430, set = 0, binding = 2) readonly buffer BufBase { int sample_base; };
layout(std430, set = 0, binding = 3) writeonly buffer BufOut { float o[]; };
layout(std430, set = 0, binding = 0) readonly buffer BufX4 { vec4 x4[]; };  // the same buffers, as vec4s
layout(std430, set = 0, binding = 3) writeonly buffer BufOut4 { vec4 o4[]; };

layout(push_constant) uniform Push {
  uint count, per_item;
  uint seed;
  uint threshold;  // ops::dropout_threshold(rate), from the host
  float scale;     // float(1 / (1 - rate)), from the host
} p;

uint mix32(uint v) {
  v ^= v >> 16;
  v *= 0x7feb352du;
  v ^= v >> 15;
  v *= 0x846ca68bu;
  v ^= v >> 16;
  return v;
}

void main() {
  const uint key = mix32(mix32(p.seed) ^ uint(step));
  const uint first = uint(sample_base) * p.per_item;
  const uint quads = p.count / 4;
  for (uint q = gl_GlobalInvocationID.x; q < quads; q += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const vec4 v = x4[q];
    vec4 r;
    for (uint k = 0; k < 4; ++k) {
      const bool keep = (mix32(key ^ (first + q * 4 + k)) >> 8) >= p.threshold;
      r[k] = keep ? v[k] * p.scale : 0.0;
    }
    o4[q] = r;
  }
  if (gl_GlobalInvocationID.x != 0) return;
  for (uint i = quads * 4; i < p.count; ++i) {
    const bool keep = (mix32(key ^ (first + i)) >> 8) >= p.threshold;
    o[i] = keep ? x[i] * p.scale : 0.0;
  }
}
