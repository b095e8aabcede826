#version 450
// Re-lays conv2d weights w [OC][C][KH][KW] so that the direct shaders fetch a
// channel block's weights for one tap as whole vec4s:
//   mode 0 (conv_forward):    wt[r][o] = w[o][r], r = (c*KH + i)*KW + j, rows padded to `padded` (OC rounded up to 16)
//   mode 1 (conv_input_grad): wt[(i*KW + j)*OC + o][c] = w[o][c][i][j], rows padded to `padded` (C rounded up to 16)
// The padding columns are zero.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufW { float w[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufWt { float wt[]; };

layout(push_constant) uniform Push {
  uint count;  // rows * padded
  uint oc, c, taps, padded, mode;
} p;

void main() {
  for (uint idx = gl_GlobalInvocationID.x; idx < p.count; idx += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint row = idx / p.padded, col = idx - row * p.padded;
    float v = 0.0;
    if (p.mode == 0) {
      if (col < p.oc) v = w[col * p.c * p.taps + row];
    } else {
      const uint tap = row / p.oc, o = row - tap * p.oc;
      if (col < p.c) v = w[(o * p.c + col) * p.taps + tap];
    }
    wt[idx] = v;
  }
}
