#version 450
// Row softmax over the last axis of z [rows, cols], one workgroup per row
// (grid-stride over rows), shared-memory reductions for the row max and sum:
//   mode 0 softmax:                         out = exp(z - max) / sum
//   mode 1 softmax_cross_entropy_backward:  out = (softmax(z) - onehot(label)) * dloss / rows
//   mode 2 log_softmax:                     out = (z - max) - log(sum)
// Mode 1 writes 1 to status for a label outside [0, cols) (that row then gets
// no one-hot term). Modes 0 and 2 ignore labels, dloss and status (bind any buffers).
// (Softmax over another axis, with a stride along it: softmax_cols.comp.)
layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer BufZ { float z[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufLabels { int labels[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufDloss { float dloss; };
layout(std430, set = 0, binding = 3) writeonly buffer BufOut { float o[]; };
layout(std430, set = 0, binding = 4) writeonly buffer BufStatus { uint status; };

layout(push_constant) uniform Push {
  uint rows, cols, mode;
} p;

shared float red[64];

void main() {
  const uint lid = gl_LocalInvocationID.x;
  for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
    const uint base = row * p.cols;
    float m = uintBitsToFloat(0xff800000u);  // -inf
    for (uint j = lid; j < p.cols; j += 64) m = max(m, z[base + j]);
    red[lid] = m;
    barrier();
    for (uint h = 32; h > 0; h >>= 1) {
      if (lid < h) red[lid] = max(red[lid], red[lid + h]);
      barrier();
    }
    m = red[0];
    barrier();

    float s = 0.0;
    for (uint j = lid; j < p.cols; j += 64) s += exp(z[base + j] - m);
    red[lid] = s;
    barrier();
    for (uint h = 32; h > 0; h >>= 1) {
      if (lid < h) red[lid] += red[lid + h];
      barrier();
    }
    const float sum = red[0];
    const float inv = 1.0 / sum;
    barrier();  // red is reused by the next row

    if (p.mode == 0) {
      for (uint j = lid; j < p.cols; j += 64) o[base + j] = exp(z[base + j] - m) * inv;
    } else if (p.mode == 2) {
      const float ls = log(sum);
      for (uint j = lid; j < p.cols; j += 64) o[base + j] = (z[base + j] - m) - ls;
    } else {
      const int label = labels[row];
      if (label < 0 || label >= int(p.cols)) status = 1u;
      const float scale = dloss / float(p.rows);
      for (uint j = lid; j < p.cols; j += 64) {
        float y = exp(z[base + j] - m) * inv;
        if (int(j) == label) y -= 1.0;
        o[base + j] = y * scale;
      }
    }
  }
}
