// The Vulkan kernels of ops/eltwise.def: each op runs its own SPIR-V variant
// of shaders/unary.comp or binary.comp (unary_<op>, binary_<op>_backward, ...;
// no op switch at run time), with broadcast operands described by strides
// (backends/strided.h). Also broadcast_to.
#include <string>

#include <graphgrad/backends/backend.h>
#include <graphgrad/backends/strided.h>
#include <graphgrad/ops/eltwise.h>
#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

constexpr uint32_t kLocal = 256;
constexpr int kShaderRank = 6;

// Mirrors the push constants of shaders/unary.comp.
struct UnaryPush {
  uint32_t count, row;
  float p0, p1;
};
static_assert(sizeof(UnaryPush) == 16);

// Mirrors shaders/binary.comp.
struct BinaryPush {
  uint32_t count, row, rank, side;
  uint32_t dims[kShaderRank], sa[kShaderRank], sb[kShaderRank];
};
static_assert(sizeof(BinaryPush) == 88);

// Mirrors shaders/broadcast_to.comp.
struct BroadcastPush {
  uint32_t count, row, rank;
  float scale;
  uint32_t dims[kShaderRank], sx[kShaderRank];
};
static_assert(sizeof(BroadcastPush) == 64);

// A 2-D grid of 256-wide groups covering count invocations; `row` is the
// invocations per grid row (the shaders' flat_index).
struct Grid {
  uint32_t gx, gy, row;
};
Grid grid(uint32_t count, const Recorder& r) {
  const uint32_t groups = (count + kLocal - 1) / kLocal;
  const uint32_t gx = std::max<uint32_t>(1, std::min(groups, r.max_groups(0)));
  return {gx, std::max<uint32_t>(1, (groups + gx - 1) / gx), gx * kLocal};
}

std::string shader_of(const KernelArgs& a, const char* family) {
  return std::string(family) + "_" + std::string(ops::op_info(a.node->op->id()).name);
}

void unary(const KernelArgs& a) {
  const uint32_t count = u32(a, a.out_numel());
  if (count == 0) return;
  const Grid g = grid((count + 3) / 4, *a.rec);  // 4 elements per invocation
  const auto [p0, p1] = ops::unary_params(*a.node);
  const UnaryPush p{.count = count, .row = g.row, .p0 = p0, .p1 = p1};
  const bool backward = a.node->inputs.size() > 1;
  // Backward inputs: dy, then x and/or y; an absent one is bound to the other.
  const Slice& x = backward ? a.in[1] : a.in[0];
  const Slice& y = a.node->inputs.size() == 3 ? a.in[2] : x;
  a.rec->dispatch_texels(shader_of(a, "unary"), {a.out}, {a.in[0], x, y}, p, g.gx, g.gy);
}

template <int N>
Strided<N> strided(const KernelArgs& a, const Shape* const (&in)[N]) {
  const Strided<N> st(a.node->shape.resolved(a.batch), in, a);
  if (st.rank > kShaderRank)
    throw BackendError("vulkan: " + a.graph->describe(a.node->id) + ": its broadcast needs " + std::to_string(st.rank) +
                       " dimensions after collapsing; the shaders take " + std::to_string(kShaderRank));
  return st;
}

// Forward inputs: a, b. Backward: dy, a, b, y (attribute side). `shader`:
// the op's own variant, unless given.
void binary_as(const KernelArgs& a, const std::string& shader) {
  const uint32_t count = u32(a, a.out_numel());
  if (count == 0) return;
  const bool backward = a.node->inputs.size() == 4;
  const int ia = backward ? 1 : 0;
  const Shape sa = a.in_shape(ia).resolved(a.batch), sb = a.in_shape(ia + 1).resolved(a.batch);
  const Shape* const in[2] = {&sa, &sb};
  const Strided<2> st = strided(a, in);
  const Grid g = grid(count, *a.rec);
  BinaryPush p{.count = count, .row = g.row, .rank = static_cast<uint32_t>(st.rank),
               .side = backward ? static_cast<uint32_t>(a.node->attrs.i("side")) : 0u};
  for (int d = 0; d < st.rank; ++d) {
    p.dims[d] = u32(a, st.dims[d]);
    p.sa[d] = u32(a, st.stride[0][d]);
    p.sb[d] = u32(a, st.stride[1][d]);
  }
  const Slice& dy = backward ? a.in[0] : a.in[ia];
  const Slice& y = backward ? a.in[3] : a.in[ia];
  a.rec->dispatch(shader, {a.in[ia], a.in[ia + 1], dy, y, a.out}, p, g.gx, g.gy);
}
void binary(const KernelArgs& a) { binary_as(a, shader_of(a, "binary")); }
// Gradient accumulation: add of two equal shapes.
void accumulate(const KernelArgs& a) { binary_as(a, "binary_add"); }

void broadcast_to(const KernelArgs& a) {
  const uint32_t count = u32(a, a.out_numel());
  if (count == 0) return;
  const Shape sx = a.in_shape(0).resolved(a.batch);
  const Shape* const in[1] = {&sx};
  const Strided<1> st = strided(a, in);
  const Grid g = grid(count, *a.rec);
  const bool mean = a.node->attrs.i("mean") != 0;
  BroadcastPush p{.count = count, .row = g.row, .rank = static_cast<uint32_t>(st.rank),
                  .scale = mean ? static_cast<float>(double(sx.numel()) / double(a.out_numel())) : 1.0f};
  for (int d = 0; d < st.rank; ++d) {
    p.dims[d] = u32(a, st.dims[d]);
    p.sx[d] = u32(a, st.stride[0][d]);
  }
  a.rec->dispatch("broadcast_to", {a.in[0], a.out}, p, g.gx, g.gy);
}

#define GG_UNARY(name, ...) {ops::id::name, unary}, {ops::id::name##_backward, unary},
#define GG_UNARY_P GG_UNARY
#define GG_BINARY(name, ...) {ops::id::name, binary}, {ops::id::name##_backward, binary},
const KernelEntry kEntries[] = {
#include <graphgrad/ops/eltwise.def>
    {ops::id::broadcast_to, broadcast_to},
    {ops::id::accumulate, accumulate},
};
#undef GG_UNARY
#undef GG_UNARY_P
#undef GG_BINARY
}  // namespace

KernelTable eltwise_def_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
