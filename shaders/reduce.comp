#version 450
// One pass of a reduction: x viewed as [outer, r, inner] -> y [outer, blocks,
// inner], each output reducing `chunk` consecutive steps of r (blocks =
// ceil(r / chunk)): summed (times `scale`: the mean's 1/count on the last
// pass) or maximised (a NaN, once seen, stays: PyTorch's amax propagates it).
// The host chains passes until blocks is 1. Chunks keep every loop short:
// lavapipe (gallivm) stops any shader loop after 65535 iterations.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufY { float y[]; };

layout(push_constant) uniform Push {
  uint count, row, r, inner;
  uint is_max;
  float scale;
  uint chunk, blocks;
} p;

void main() {
  const uint i = flat_index(p.row);
  if (i >= p.count) return;
  const uint k = i % p.inner, ob = i / p.inner, b = ob % p.blocks, o = ob / p.blocks;
  const uint first = b * p.chunk, last = min(p.r, first + p.chunk);
  uint at = (o * p.r + first) * p.inner + k;
  float acc = x[at];
  for (uint j = first + 1; j < last; ++j) {
    at += p.inner;
    const float v = x[at];
    acc = p.is_max != 0 ? ((v > acc || isnan(v)) ? v : acc) : acc + v;
  }
  y[i] = p.is_max != 0 ? acc : acc * p.scale;
}
