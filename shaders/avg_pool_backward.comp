#version 450
// dx of avg_pool2d: each window's dy / count (its real, non-padded elements)
// spread over the window. A gather, not a scatter: one invocation per dx
// element sums over the windows that hold it (overlapping when stride < pool)
// in (oy, ox) order, the CPU kernel's order. No atomics, no zeroing pass;
// elements outside every window ('valid', floor mode) get 0.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufDy { float dy[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufDx { float dx[]; };

// Shared with avg_pool.comp.
layout(push_constant) uniform Push {
  uint count;  // planes * H*W
  uint h, w, oh, ow, pool, stride, pad_top, pad_left;
} p;

// A window's extent along one axis, clipped to the input: its element count.
uint extent(uint o, uint pad, uint size) {
  const int s = int(o * p.stride) - int(pad);
  return uint(min(s + int(p.pool), int(size)) - max(s, 0));
}

void main() {
  for (uint idx = gl_GlobalInvocationID.x; idx < p.count; idx += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint ix = idx % p.w, t = idx / p.w;
    const uint iy = t % p.h, plane = t / p.h;
    // Windows o with o*s <= i + pad <= o*s + pool - 1.
    const uint ty = iy + p.pad_top, tx = ix + p.pad_left;
    const uint oy0 = ty + 1 > p.pool ? (ty + 1 - p.pool + p.stride - 1) / p.stride : 0;
    const uint ox0 = tx + 1 > p.pool ? (tx + 1 - p.pool + p.stride - 1) / p.stride : 0;
    const uint oy1 = min(ty / p.stride + 1, p.oh), ox1 = min(tx / p.stride + 1, p.ow);  // exclusive
    float sum = 0.0;
    for (uint oy = oy0; oy < oy1; ++oy) {
      const uint ny = extent(oy, p.pad_top, p.h);
      for (uint ox = ox0; ox < ox1; ++ox)
        sum += dy[plane * p.oh * p.ow + oy * p.ow + ox] / float(ny * extent(ox, p.pad_left, p.w));
    }
    dx[idx] = sum;
  }
}
