#version 450
// db[k] = sum over n and the inner elements of dy[n][k][inner]. One workgroup
// per channel (grid-stride over channels): each invocation sums a strided
// share of every image's row (no index division: integer division is a
// scalar loop on CPU devices), then a shared-memory tree adds the 64 partial
// sums (pairwise, so the rounding error grows slowly with N * inner). dy is
// read through a texel buffer (texel.glsl).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
#include "texel.glsl"

layout(std430, set = 0, binding = 0) writeonly buffer BufDb { float db[]; };
TEXEL_INPUT(0, DY, 1)

layout(push_constant) uniform Push {
  uint n, channels, inner;
} p;

shared float part[64];

void main() {
  const uint lid = gl_LocalInvocationID.x;
  for (uint k = gl_WorkGroupID.x; k < p.channels; k += gl_NumWorkGroups.x) {
    float s = 0.0;
    for (uint i = 0; i < p.n; ++i) {
      const uint row = (i * p.channels + k) * p.inner;
      for (uint j = lid; j < p.inner; j += 64) s += FETCH(DY, row + j);
    }
    part[lid] = s;
    barrier();
    for (uint h = 32; h > 0; h >>= 1) {
      if (lid < h) part[lid] += part[lid + h];
      barrier();
    }
    if (lid == 0) db[k] = part[0];
    barrier();  // part[0] is read before the next channel overwrites it
  }
}
