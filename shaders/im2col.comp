#version 450
// Unfolds a run of images for a convolution's gemm:
//   col[n][(c*KH + i)*KW + j][oy*OW + ox] = x[n][c][oy*s - pad_top + i][ox*s - pad_left + j]
// (0 outside the image), n counted from the image at element offset `off` of x.
// One invocation per col element, grid-stride.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufCol { float col[]; };

// Shared with col2im.comp.
layout(push_constant) uniform Push {
  uint count;  // images * C*KH*KW * OH*OW
  uint c, h, w, kh, kw, oh, ow;
  int stride, pad_top, pad_left;
  uint off;    // element offset of the first image in x
} p;

void main() {
  const uint pixels = p.oh * p.ow, rows = p.c * p.kh * p.kw;
  for (uint idx = gl_GlobalInvocationID.x; idx < p.count; idx += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint pix = idx % pixels, t = idx / pixels;
    const uint r = t % rows, n = t / rows;
    const uint ox = pix % p.ow, oy = pix / p.ow;
    const uint j = r % p.kw, i = (r / p.kw) % p.kh, c = r / (p.kw * p.kh);
    const int iy = int(oy) * p.stride - p.pad_top + int(i);
    const int ix = int(ox) * p.stride - p.pad_left + int(j);
    float v = 0.0;
    if (iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w))
      v = x[p.off + ((n * p.c + c) * p.h + uint(iy)) * p.w + uint(ix)];
    col[idx] = v;
  }
}
