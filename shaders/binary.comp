#version 450
// One binary op of ops/eltwise.def with NumPy broadcasting, compiled once per
// op with -DOP=<name>: the forward (out = f(a, b)) or the gradient of one side
// at the output's shape (BACKWARD 1; `side` 0 for a, 1 for b; the host sums it
// over the broadcast axes). The output's dimensions come collapsed
// (backends/strided.h), each operand with its strides, 0 where broadcast.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "eltwise_prelude.glsl"

layout(std430, set = 0, binding = 0) readonly buffer BufA { float a_[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float b_[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufDy { float dy_[]; };  // backward only
layout(std430, set = 0, binding = 3) readonly buffer BufY { float y_[]; };    // backward only
layout(std430, set = 0, binding = 4) writeonly buffer BufOut { float o[]; };

layout(push_constant) uniform Push {
  uint count, row, rank, side;
  uint dims[6], sa[6], sb[6];
} p;

#define GG_UNARY(name, uses, flops, lo, hi, onnx, F, DX)
#define GG_UNARY_P(name, uses, flops, lo, hi, onnx, F, DX)
#define GG_BINARY(name, flops, lo, hi, onnx, F, DA, DB) \
  float fwd_##name(float a, float b) { return F; } \
  float da_##name(float dy, float a, float b, float y) { return DA; } \
  float db_##name(float dy, float a, float b, float y) { return DB; }
#include "eltwise.def"
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

void main() {
  const uint i = flat_index(p.row);
  if (i >= p.count) return;
  uint rem = i, ia = 0, ib = 0;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    const uint k = rem % p.dims[d];
    rem /= p.dims[d];
    ia += k * p.sa[d];
    ib += k * p.sb[d];
  }
  const float a = a_[ia], b = b_[ib];
#if BACKWARD
  o[i] = p.side == 0 ? CAT(da_, OP)(dy_[i], a, b, y_[i]) : CAT(db_, OP)(dy_[i], a, b, y_[i]);
#else
  o[i] = CAT(fwd_, OP)(a, b);
#endif
}
