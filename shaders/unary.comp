#version 450
// One unary op of ops/eltwise.def, compiled once per op with -DOP=<name>:
// the forward (BACKWARD 0: out = f(x)) or the gradient (BACKWARD 1:
// out = df(dy, x, y); an operand the op does not read is bound to another).
// out may alias an input: each invocation reads its elements before writing.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Buf0 { float in0[]; };   // x, or dy
layout(std430, set = 0, binding = 1) readonly buffer Buf1 { float in1[]; };   // backward: x
layout(std430, set = 0, binding = 2) readonly buffer Buf2 { float in2[]; };   // backward: y
layout(std430, set = 0, binding = 3) writeonly buffer BufOut { float o[]; };

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

void main() {
  const uint i = flat_index(p.row);
  if (i >= p.count) return;
#if BACKWARD
  o[i] = CAT(bwd_, OP)(in0[i], in1[i], in2[i], p.p0, p.p1);
#else
  o[i] = CAT(fwd_, OP)(in0[i], p.p0, p.p1);
#endif
}
