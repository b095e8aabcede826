#version 450
// Batch normalization's per-channel results from batch_norm_reduce.comp's
// partials [C][blocks][4]: one workgroup per channel (grid-stride) adds the
// blocks (lanes strided over them, then a shared-memory tree: a fixed order)
// and lane 0 writes, with M = count values per channel, d = S0 / M:
//   mode 0 (statistics): out[k] = K + d (the mean), out[C + k] = S1 / M - d^2
//     (the biased variance, >= 0)
//   mode 1 (backward):   out[k] = (S3 - d * S2) / sqrt(var + eps) (sum dy * xhat),
//     out[C + k] = S2 (sum dy), out[2C + k] = mean, out[3C + k] = var
// With `given` the mean is K itself (a given mean: d = 0) and the variance is
// var_in[k]. K = shift[k * shift_stride], as in the reduce pass.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufPart { float part[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufShift { float shift[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufVar { float var_in[]; };
layout(std430, set = 0, binding = 3) writeonly buffer BufOut { float res[]; };

layout(push_constant) uniform Push {
  uint channels, blocks, count, shift_stride;
  uint mode, given;
  float epsilon;
} p;

shared vec4 acc[256];

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const uint c = p.channels;
  for (uint k = gl_WorkGroupID.x; k < c; k += gl_NumWorkGroups.x) {
    vec4 s = vec4(0.0);
    for (uint b = lid; b < p.blocks; b += 256) {
      const uint at = (k * p.blocks + b) * 4;
      s += vec4(part[at], part[at + 1], part[at + 2], part[at + 3]);
    }
    acc[lid] = s;
    barrier();
    for (uint h = 128; h > 0; h >>= 1) {
      if (lid < h) acc[lid] += acc[lid + h];
      barrier();
    }
    if (lid == 0) {
      const vec4 t = acc[0];
      const float m = float(p.count);
      const float kk = shift[k * p.shift_stride];
      const float d = p.given != 0 || p.count == 0 ? 0.0 : t.x / m;
      const float var = p.given != 0 ? var_in[k] : (p.count == 0 ? 0.0 : max(t.y / m - d * d, 0.0));
      const float mean = p.count == 0 && p.given == 0 ? 0.0 : kk + d;
      if (p.mode == 0) {
        res[k] = mean;
        res[c + k] = var;
      } else {
        res[k] = (t.w - d * t.z) / sqrt(var + p.epsilon);
        res[c + k] = t.z;
        res[2 * c + k] = mean;
        res[3 * c + k] = var;
      }
    }
    barrier();  // acc[0] is read before the next channel overwrites it
  }
}
