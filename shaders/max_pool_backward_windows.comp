#version 450
// dx of max_pool2d where windows do not overlap (stride >= pool): one
// invocation per window writes the window's dy to its arg-max (the first
// maximum in row-major window order, as max_pool_backward.comp) and 0 to the
// window's other elements. Each element of dx lies in at most one window, so
// this equals the gather of max_pool_backward.comp at a quarter of its index
// arithmetic (integer division is a scalar loop on CPU devices); elements in
// no window are zeroed by the host beforehand. x and dy are gathered through
// texel buffers (texel.glsl).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "texel.glsl"

layout(std430, set = 0, binding = 0) writeonly buffer BufDx { float dx[]; };
TEXEL_INPUT(0, DY, 1)
TEXEL_INPUT(1, X, 2)

// Shared with max_pool.comp; count is planes * OH*OW here.
layout(push_constant) uniform Push {
  uint count;
  uint h, w, oh, ow, pool, stride;
} p;

void main() {
  for (uint idx = gl_GlobalInvocationID.x; idx < p.count; idx += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint ox = idx % p.ow, t = idx / p.ow;
    const uint oy = t % p.oh, plane = t / p.oh;
    const uint base = plane * p.h * p.w + oy * p.stride * p.w + ox * p.stride;
    uint best = 0;
    float bv = FETCH(X, base);
    for (uint i = 0; i < p.pool; ++i)
      for (uint j = 0; j < p.pool; ++j) {
        const float v = FETCH(X, base + i * p.w + j);
        if (v > bv) { bv = v; best = i * p.w + j; }  // strict: the first maximum wins
      }
    const float g = 0.0 + FETCH(DY, idx);  // the gather's sum from 0
    for (uint i = 0; i < p.pool; ++i)
      for (uint j = 0; j < p.pool; ++j) dx[base + i * p.w + j] = i * p.w + j == best ? g : 0.0;
  }
}
