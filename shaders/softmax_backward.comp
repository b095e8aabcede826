#version 450
// The backward ops of softmax and log_softmax over the last axis, per row of
// [rows, cols], one workgroup per row (grid-stride over rows), the row sum
// reduced in shared memory:
//   mode 0 softmax_backward:      dx = y * (dy - <dy, y>)
//   mode 1 log_softmax_backward:  dx = dy - exp(y) * sum(dy)
// (Other axes: softmax_cols.comp.)
layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer BufDy { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufY { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer BufDx { float dx[]; };

layout(push_constant) uniform Push {
  uint rows, cols, mode;
} p;

shared float red[64];

void main() {
  const uint lid = gl_LocalInvocationID.x;
  for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
    const uint base = row * p.cols;
    float d = 0.0;
    for (uint j = lid; j < p.cols; j += 64) d += p.mode == 0 ? dy[base + j] * y[base + j] : dy[base + j];
    red[lid] = d;
    barrier();
    for (uint h = 32; h > 0; h >>= 1) {
      if (lid < h) red[lid] += red[lid + h];
      barrier();
    }
    const float dot = red[0];  // mode 1: sum(dy)
    barrier();  // red is reused by the next row
    if (p.mode == 0)
      for (uint j = lid; j < p.cols; j += 64) dx[base + j] = y[base + j] * (dy[base + j] - dot);
    else
      for (uint j = lid; j < p.cols; j += 64) dx[base + j] = dy[base + j] - exp(y[base + j]) * dot;
  }
}
