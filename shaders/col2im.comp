#version 450
// The adjoint of im2col, for a run of images: dx[n][c][y][x] = the sum of the
// dcol[n][(c*KH + i)*KW + j][oy*OW + ox] with oy*s - pad_top + i == y and
// ox*s - pad_left + j == x, written at element offset `off` of dx.
//
// Written as a gather (one invocation per dx element, looping over the window
// taps that reach it) rather than a scatter: no float atomics (not core
// Vulkan), no zeroing pass, deterministic, and the taps are summed in (i, j)
// order from 0, the CPU's col2im order, so the sums match it bit for bit.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufCol { float dcol[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufDx { float dx[]; };

// Shared with im2col.comp.
layout(push_constant) uniform Push {
  uint count;  // images * C*H*W
  uint c, h, w, kh, kw, oh, ow;
  int stride, pad_top, pad_left;
  uint off;    // element offset of the first image in dx
} p;

void main() {
  const uint pixels = p.oh * p.ow, rows = p.c * p.kh * p.kw;
  const int s = p.stride;
  for (uint idx = gl_GlobalInvocationID.x; idx < p.count; idx += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint x = idx % p.w, t = idx / p.w;
    const uint y = t % p.h, t2 = t / p.h;
    const uint c = t2 % p.c, n = t2 / p.c;
    const int ty = int(y) + p.pad_top, tx = int(x) + p.pad_left;  // = o*s + tap
    const uint base = (n * rows + c * p.kh * p.kw) * pixels;
    float sum = 0.0;
    // Only taps with tap == t (mod s) land on an output pixel; as the tap
    // grows the output coordinate shrinks, so stop once it goes negative.
    for (int i = ty % s; i < int(p.kh) && i <= ty; i += s) {
      const int oy = (ty - i) / s;
      if (oy >= int(p.oh)) continue;
      for (int j = tx % s; j < int(p.kw) && j <= tx; j += s) {
        const int ox = (tx - j) / s;
        if (ox >= int(p.ow)) continue;
        sum += dcol[base + (uint(i) * p.kw + uint(j)) * pixels + uint(oy) * p.ow + uint(ox)];
      }
    }
    dx[p.off + idx] = sum;
  }
}
