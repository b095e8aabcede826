#version 450
// One unary op of ops/eltwise.def, compiled once per op with -DOP=<name>:
// the forward (BACKWARD 0: out = f(x)) or the gradient (BACKWARD 1:
// out = df(dy, x, y); an operand the op does not read is bound to another).
// out may alias an input: each invocation reads its elements before writing.
// The inputs are read through texel buffers (texel.glsl); each invocation
// takes 4 consecutive elements and stores them as one vec4 (a CPU device runs
// a storage write per lane, so 4x fewer of them), the last one the remainder.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "eltwise_prelude.glsl"
#include "texel.glsl"

layout(std430, set = 0, binding = 0) writeonly buffer BufOut { float o[]; };
layout(std430, set = 0, binding = 0) writeonly buffer BufOut4 { vec4 o4[]; };  // the same buffer
TEXEL_INPUT(0, IN0, 1)  // x, or dy
TEXEL_INPUT(1, IN1, 2)  // backward: x
TEXEL_INPUT(2, IN2, 3)  // backward: y

layout(push_constant) uniform Push {
  uint count, row;
  float p0, p1;
} p;

#define GG_UNARY(name, uses, flops, lo, hi, onnx, F, DX) \
  float fwd_##name(float x, float p0, float p1) { return F; } \
  float bwd_##name(float dy, float x, float y, float p0, float p1) { return DX; }
#define GG_UNARY_P GG_UNARY
#define GG_BINARY(name, flops, lo, hi, onnx, F, DA, DB)
#include "eltwise.def"
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

float value(uint i) {
#if BACKWARD
  return CAT(bwd_, OP)(FETCH(IN0, i), FETCH(IN1, i), FETCH(IN2, i), p.p0, p.p1);
#else
  return CAT(fwd_, OP)(FETCH(IN0, i), p.p0, p.p1);
#endif
}

void main() {
  const uint i4 = flat_index(p.row), i = i4 * 4;
  if (i >= p.count) return;
  if (i + 3 < p.count) {
    o4[i4] = vec4(value(i), value(i + 1), value(i + 2), value(i + 3));
  } else {
    for (uint k = i; k < p.count; ++k) o[k] = value(k);
  }
}
