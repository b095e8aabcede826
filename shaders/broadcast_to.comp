#version 450
// broadcast_to: out[i] = x[the element broadcasting maps i to] * scale (the
// mean's 1/stretch, or 1). Dimensions collapsed as in binary.comp.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufOut { float o[]; };

layout(push_constant) uniform Push {
  uint count, row, rank;
  float scale;
  uint dims[6], sx[6];
} p;

void main() {
  const uint i = flat_index(p.row);
  if (i >= p.count) return;
  uint rem = i, ix = 0;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    const uint k = rem % p.dims[d];
    rem /= p.dims[d];
    ix += k * p.sx[d];
  }
  o[i] = p.scale == 1.0 ? x[ix] : x[ix] * p.scale;
}
