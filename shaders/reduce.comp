#version 450
// One pass of a reduction: x viewed as [outer, r, inner] -> y [outer, inner],
// summed (times `scale`: the mean's 1/count on the last pass) or maximised
// (a NaN, once seen, stays: PyTorch's amax propagates it). One invocation per
// output element, reducing in index order.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufY { float y[]; };

layout(push_constant) uniform Push {
  uint count, row, r, inner;
  uint is_max;
  float scale;
} p;

void main() {
  const uint i = flat_index(p.row);
  if (i >= p.count) return;
  const uint o = i / p.inner, k = i % p.inner;
  uint at = o * p.r * p.inner + k;
  float acc = x[at];
  for (uint j = 1; j < p.r; ++j) {
    at += p.inner;
    const float v = x[at];
    acc = p.is_max != 0 ? ((v > acc || isnan(v)) ? v : acc) : acc + v;
  }
  y[i] = p.is_max != 0 ? acc : acc * p.scale;
}
