#version 450
// db[k] = sum over n and the inner elements of dy[n][k][inner]. One workgroup
// per channel (grid-stride over channels): each invocation sums a strided
// share, then a shared-memory tree adds the 256 partial sums (pairwise, so the
// rounding error grows slowly with N * inner).
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufDy { float dy[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufDb { float db[]; };

layout(push_constant) uniform Push {
  uint n, channels, inner;
} p;

shared float part[256];

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const uint per_channel = p.n * p.inner;
  for (uint k = gl_WorkGroupID.x; k < p.channels; k += gl_NumWorkGroups.x) {
    float s = 0.0;
    for (uint e = lid; e < per_channel; e += 256) {
      const uint i = e / p.inner, j = e % p.inner;
      s += dy[(i * p.channels + k) * p.inner + j];
    }
    part[lid] = s;
    barrier();
    for (uint h = 128; h > 0; h >>= 1) {
      if (lid < h) part[lid] += part[lid + h];
      barrier();
    }
    if (lid == 0) db[k] = part[0];
    barrier();  // part[0] is read before the next channel overwrites it
  }
}
