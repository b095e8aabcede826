#version 450
// dx = y * (dy - <dy, y>) per row of [rows, cols], one workgroup per row
// (grid-stride over rows), the dot product reduced in shared memory.
layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer BufDy { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufY { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer BufDx { float dx[]; };

layout(push_constant) uniform Push {
  uint rows, cols;
} p;

shared float red[64];

void main() {
  const uint lid = gl_LocalInvocationID.x;
  for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
    const uint base = row * p.cols;
    float d = 0.0;
    for (uint j = lid; j < p.cols; j += 64) d += dy[base + j] * y[base + j];
    red[lid] = d;
    barrier();
    for (uint h = 32; h > 0; h >>= 1) {
      if (lid < h) red[lid] += red[lid + h];
      barrier();
    }
    const float dot = red[0];
    barrier();  // red is reused by the next row
    for (uint j = lid; j < p.cols; j += 64) dx[base + j] = y[base + j] * (dy[base + j] - dot);
  }
}
