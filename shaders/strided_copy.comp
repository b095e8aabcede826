#version 450
// The shape ops' copy (backends/strided_copy.h): element i of a dims-shaped
// walk goes from x[src0 + sum k_d * ss_d] to y[dst0 + sum k_d * ds_d]. One
// invocation per element; 4-byte words copied as bits (f32 and i32 alike).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufX { uint x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufY { uint y[]; };

layout(push_constant) uniform Push {
  uint count, row, rank, src0, dst0;
  uint dims[8], ss[8], ds[8];
} p;

void main() {
  const uint i = flat_index(p.row);
  if (i >= p.count) return;
  uint rem = i, s = p.src0, d = p.dst0;
  for (int k = int(p.rank) - 1; k >= 0; --k) {
    const uint c = rem % p.dims[k];
    rem /= p.dims[k];
    s += c * p.ss[k];
    d += c * p.ds[k];
  }
  y[d] = x[s];
}
