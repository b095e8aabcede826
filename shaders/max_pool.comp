#version 450
// y[plane][oy][ox] = the maximum of the pool x pool window at (oy*s, ox*s) of
// x[plane] ('valid', floor mode). One invocation per output element; x is
// gathered through a texel buffer (texel.glsl).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "texel.glsl"

layout(std430, set = 0, binding = 0) writeonly buffer BufY { float y[]; };
TEXEL_INPUT(0, X, 1)

// Shared with max_pool_backward.comp.
layout(push_constant) uniform Push {
  uint count;  // forward: planes * OH*OW; backward: planes * H*W
  uint h, w, oh, ow, pool, stride;
} p;

void main() {
  for (uint idx = gl_GlobalInvocationID.x; idx < p.count; idx += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint ox = idx % p.ow, t = idx / p.ow;
    const uint oy = t % p.oh, plane = t / p.oh;
    const uint base = plane * p.h * p.w + oy * p.stride * p.w + ox * p.stride;
    float best = FETCH(X, base);
    for (uint i = 0; i < p.pool; ++i)
      for (uint j = 0; j < p.pool; ++j) {
        const float v = FETCH(X, base + i * p.w + j);
        if (v > best) best = v;  // strict: the first maximum wins (also for -0 vs +0)
      }
    y[idx] = best;
  }
}
