// The CPU kernels of ops/eltwise.def, generated from its lines: each unary
// op's forward and backward, each binary op's forward and backward (operands
// broadcast through Strided, never copied), and broadcast_to. Vectorised on
// Vec8 where the build has AVX2 (eltwise_math.h), threaded above kGrain.
#include <array>

#include <graphgrad/ops/eltwise.h>
#include <graphgrad/ops/op_table.h>

#include "eltwise_math.h"
#include "kernels.h"
#include <graphgrad/backends/strided.h>

namespace gg::cpu {
namespace {
namespace em = eltwise_math;
constexpr int64_t kGrain = 8192;  // elements per thread below which splitting costs more than it saves

template <class Fn>
void unary_forward(const KernelArgs& a) {
  const float* x = a.input(0);
  float* out = a.out;
  // Not a structured binding: clang before 16 cannot capture one in a lambda.
  const std::array<float, 2> p = ops::unary_params(*a.node);
  const float p0 = p[0], p1 = p[1];
  a.pool->parallel_for(a.out_numel(), [=](int64_t b, int64_t e, int) {
    int64_t i = b;
#ifdef GG_ELTWISE_VEC8
    for (; i + 8 <= e; i += 8) Fn::fwd(em::Vec8::load(x + i), p0, p1).store(out + i);
#endif
    for (; i < e; ++i) out[i] = Fn::fwd(x[i], p0, p1);
  }, kGrain);
}

// inputs: dy, then x and/or y (ops::Uses); an absent one is bound to the other
// and never read.
template <class Fn, ops::Uses U>
void unary_backward(const KernelArgs& a) {
  const float* dy = a.input(0);
  const float* x = a.input(1);
  const float* y = U == ops::Uses::xy ? a.input(2) : a.input(1);
  float* out = a.out;
  // Not a structured binding: clang before 16 cannot capture one in a lambda.
  const std::array<float, 2> p = ops::unary_params(*a.node);
  const float p0 = p[0], p1 = p[1];
  a.pool->parallel_for(a.out_numel(), [=](int64_t b, int64_t e, int) {
    int64_t i = b;
#ifdef GG_ELTWISE_VEC8
    using V = em::Vec8;
    for (; i + 8 <= e; i += 8) Fn::bwd(V::load(dy + i), V::load(x + i), V::load(y + i), p0, p1).store(out + i);
#endif
    for (; i < e; ++i) out[i] = Fn::bwd(dy[i], x[i], y[i], p0, p1);
  }, kGrain);
}

#ifdef GG_ELTWISE_VEC8
// Lane i of a run: the element itself (stride 1) or the broadcast one (stride 0).
inline em::Vec8 lanes(const float* p, int64_t i, int64_t stride) { return stride ? em::Vec8::load(p + i) : em::Vec8(*p); }
#endif

template <class Fn>
void binary_forward(const KernelArgs& a) {
  const Shape* const in[2] = {&a.in_shape(0), &a.in_shape(1)};
  const Strided<2> st(a.node->shape, in, a);
  const float* pa = a.input(0);
  const float* pb = a.input(1);
  float* out = a.out;
  a.pool->parallel_for(a.out_numel(), [&](int64_t b, int64_t e, int) {
    st.walk(b, e, [&](int64_t pos, const int64_t* off, int64_t len, const int64_t* s) {
      const float* ra = pa + off[0];
      const float* rb = pb + off[1];
      float* o = out + pos;
      int64_t i = 0;
#ifdef GG_ELTWISE_VEC8
      for (; i + 8 <= len; i += 8) Fn::fwd(lanes(ra, i, s[0]), lanes(rb, i, s[1])).store(o + i);
#endif
      for (; i < len; ++i) o[i] = Fn::fwd(ra[i * s[0]], rb[i * s[1]]);
    });
  }, kGrain);
}

// inputs: dy, a, b, y; the gradient of side a or b at the output's shape.
template <class Fn>
void binary_backward(const KernelArgs& a) {
  const Shape* const in[2] = {&a.in_shape(1), &a.in_shape(2)};
  const Strided<2> st(a.node->shape, in, a);
  const float* dy = a.input(0);
  const float* pa = a.input(1);
  const float* pb = a.input(2);
  const float* y = a.input(3);
  float* out = a.out;
  const bool side_b = a.node->attrs.i("side") != 0;
  a.pool->parallel_for(a.out_numel(), [&](int64_t b, int64_t e, int) {
    st.walk(b, e, [&](int64_t pos, const int64_t* off, int64_t len, const int64_t* s) {
      const float* ra = pa + off[0];
      const float* rb = pb + off[1];
      const float* g = dy + pos;
      const float* ry = y + pos;
      float* o = out + pos;
      int64_t i = 0;
      if (!side_b) {
#ifdef GG_ELTWISE_VEC8
        for (; i + 8 <= len; i += 8)
          Fn::da(em::Vec8::load(g + i), lanes(ra, i, s[0]), lanes(rb, i, s[1]), em::Vec8::load(ry + i)).store(o + i);
#endif
        for (; i < len; ++i) o[i] = Fn::da(g[i], ra[i * s[0]], rb[i * s[1]], ry[i]);
      } else {
#ifdef GG_ELTWISE_VEC8
        for (; i + 8 <= len; i += 8)
          Fn::db(em::Vec8::load(g + i), lanes(ra, i, s[0]), lanes(rb, i, s[1]), em::Vec8::load(ry + i)).store(o + i);
#endif
        for (; i < len; ++i) o[i] = Fn::db(g[i], ra[i * s[0]], rb[i * s[1]], ry[i]);
      }
    });
  }, kGrain);
}

// x stretched to the output's shape; with `mean`, divided by the stretch.
void broadcast_to(const KernelArgs& a) {
  const Shape* const in[1] = {&a.in_shape(0)};
  const Strided<1> st(a.node->shape, in, a);
  const float* x = a.input(0);
  float* out = a.out;
  const bool mean = a.node->attrs.i("mean") != 0;
  const float scale = mean ? static_cast<float>(double(a.in_numel(0)) / double(a.out_numel())) : 1.0f;
  a.pool->parallel_for(a.out_numel(), [&](int64_t b, int64_t e, int) {
    st.walk(b, e, [&](int64_t pos, const int64_t* off, int64_t len, const int64_t* s) {
      const float* r = x + off[0];
      float* o = out + pos;
      if (mean)
        for (int64_t i = 0; i < len; ++i) o[i] = r[i * s[0]] * scale;
      else
        for (int64_t i = 0; i < len; ++i) o[i] = r[i * s[0]];
    });
  }, kGrain);
}

// Unary ops may overwrite their input (element i read before element i is
// written); binary ops may not, since a broadcast operand is smaller.
#define GG_UNARY(name, uses, ...)                                           \
  {ops::id::name, unary_forward<em::name##_fn>, nullptr, true},             \
  {ops::id::name##_backward, unary_backward<em::name##_fn, ops::Uses::uses>, nullptr, true},
#define GG_UNARY_P GG_UNARY
#define GG_BINARY(name, ...)                                                \
  {ops::id::name, binary_forward<em::name##_fn>, nullptr, false},           \
  {ops::id::name##_backward, binary_backward<em::name##_fn>, nullptr, false},
const KernelEntry kEntries[] = {
#include <graphgrad/ops/eltwise.def>
    {ops::id::broadcast_to, broadcast_to, nullptr, false},
    // Gradient accumulation is add of two equal shapes, so it may overwrite input 0.
    {ops::id::accumulate, binary_forward<em::add_fn>, nullptr, true},
};
#undef GG_UNARY
#undef GG_UNARY_P
#undef GG_BINARY
}  // namespace

KernelTable eltwise_def_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
