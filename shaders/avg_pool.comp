#version 450
// y[plane][oy][ox] = the mean of the real (non-padded) elements of the
// pool x pool window at (oy*s - pad_top, ox*s - pad_left) of x[plane].
// One invocation per output element; the sum runs in row-major window order,
// as the CPU kernel's does.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufY { float y[]; };

// Shared with avg_pool_backward.comp.
layout(push_constant) uniform Push {
  uint count;  // forward: planes * OH*OW; backward: planes * H*W
  uint h, w, oh, ow, pool, stride, pad_top, pad_left;
} p;

void main() {
  for (uint idx = gl_GlobalInvocationID.x; idx < p.count; idx += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint ox = idx % p.ow, t = idx / p.ow;
    const uint oy = t % p.oh, plane = t / p.oh;
    // The window clipped to the input (signed: padding starts it above row 0).
    const int sy = int(oy * p.stride) - int(p.pad_top), sx = int(ox * p.stride) - int(p.pad_left);
    const uint y0 = uint(max(sy, 0)), y1 = uint(min(sy + int(p.pool), int(p.h)));
    const uint x0 = uint(max(sx, 0)), x1 = uint(min(sx + int(p.pool), int(p.w)));
    const uint base = plane * p.h * p.w;
    float sum = 0.0;
    for (uint i = y0; i < y1; ++i)
      for (uint j = x0; j < x1; ++j) sum += x[base + i * p.w + j];
    y[idx] = sum / float((y1 - y0) * (x1 - x0));
  }
}
