#version 450
// Batch normalization's per-channel partial sums over x viewed as [N, C,
// inner]: workgroup (b, k) sums block b (block_len consecutive values, in
// (n, inner) order, of the channel's M = N * inner) of channel k:
//   x - K, (x - K)^2 and, with dy, dy and dy * (x - K)
// K = shift[k * shift_stride] (the channel's first value, or a given mean):
// shifted, E[x^2] - E[x]^2 does not cancel when |mean| >> std. Partials go
// to part[(k * blocks + b) * 4 + s]; batch_norm_finish.comp adds them. Each
// invocation loops over at most block_len / 256 values (lavapipe ends shader
// loops after 65535 iterations); a shared-memory tree adds the 256 lanes, so
// the order is fixed and results are deterministic.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufDy { float dy[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufShift { float shift[]; };
layout(std430, set = 0, binding = 3) writeonly buffer BufPart { float part[]; };

layout(push_constant) uniform Push {
  uint n, channels, inner, blocks;
  uint block_len, shift_stride, with_dy;
} p;

shared vec4 acc[256];

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const uint m = p.n * p.inner;
  for (uint k = gl_WorkGroupID.y; k < p.channels; k += gl_NumWorkGroups.y)
    for (uint b = gl_WorkGroupID.x; b < p.blocks; b += gl_NumWorkGroups.x) {
      const float kk = shift[k * p.shift_stride];
      vec4 s = vec4(0.0);
      const uint end = min(m, (b + 1) * p.block_len);
      for (uint e = b * p.block_len + lid; e < end; e += 256) {
        const uint i = e / p.inner, j = e - i * p.inner;
        const uint at = (i * p.channels + k) * p.inner + j;
        const float v = x[at] - kk;
        s.x += v;
        s.y += v * v;
        if (p.with_dy != 0) {
          const float d = dy[at];
          s.z += d;
          s.w += d * v;
        }
      }
      acc[lid] = s;
      barrier();
      for (uint h = 128; h > 0; h >>= 1) {
        if (lid < h) acc[lid] += acc[lid + h];
        barrier();
      }
      if (lid == 0) {
        const uint at = (k * p.blocks + b) * 4;
        part[at] = acc[0].x;
        part[at + 1] = acc[0].y;
        part[at + 2] = acc[0].z;
        part[at + 3] = acc[0].w;
      }
      barrier();  // acc[0] is read before the next item overwrites it
    }
}
