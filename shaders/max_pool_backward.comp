#version 450
// dx of max_pool2d: each window's dy goes to the window's arg-max, the first
// maximum in row-major window order (recomputed from x, as every backend does).
//
// A gather, not a scatter: one invocation per dx element visits the windows
// that contain it (overlapping when stride < pool) and adds the dy of those
// whose arg-max it is. No atomics, no zeroing pass, and the windows are taken
// in (oy, ox) order, the CPU's accumulation order, so the sums match it bit
// for bit. Elements outside every window (floor mode) get 0.
// dy and x are gathered through texel buffers (texel.glsl).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "texel.glsl"

layout(std430, set = 0, binding = 0) writeonly buffer BufDx { float dx[]; };
TEXEL_INPUT(0, DY, 1)
TEXEL_INPUT(1, X, 2)

// Shared with max_pool.comp.
layout(push_constant) uniform Push {
  uint count;  // planes * H*W
  uint h, w, oh, ow, pool, stride;
} p;

// Plane offset of the window's first maximum.
uint window_argmax(uint plane_base, uint oy, uint ox) {
  uint best = oy * p.stride * p.w + ox * p.stride;
  float bv = FETCH(X, plane_base + best);
  for (uint i = 0; i < p.pool; ++i)
    for (uint j = 0; j < p.pool; ++j) {
      const uint at = (oy * p.stride + i) * p.w + ox * p.stride + j;
      const float v = FETCH(X, plane_base + at);
      if (v > bv) { bv = v; best = at; }
    }
  return best;
}

void main() {
  for (uint idx = gl_GlobalInvocationID.x; idx < p.count; idx += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint ix = idx % p.w, t = idx / p.w;
    const uint iy = t % p.h, plane = t / p.h;
    const uint here = iy * p.w + ix, plane_base = plane * p.h * p.w;
    // Windows o with o*s <= i <= o*s + pool - 1.
    const uint oy0 = iy + 1 > p.pool ? (iy + 1 - p.pool + p.stride - 1) / p.stride : 0;
    const uint ox0 = ix + 1 > p.pool ? (ix + 1 - p.pool + p.stride - 1) / p.stride : 0;
    const uint oy1 = min(iy / p.stride + 1, p.oh), ox1 = min(ix / p.stride + 1, p.ow);  // exclusive
    float sum = 0.0;
    for (uint oy = oy0; oy < oy1; ++oy)
      for (uint ox = ox0; ox < ox1; ++ox)
        if (window_argmax(plane_base, oy, ox) == here) sum += FETCH(DY, plane * p.oh * p.ow + oy * p.ow + ox);
    dx[idx] = sum;
  }
}
