// Batch normalization on Vulkan, as on the CPU (backends/cpu/kernels_batch_norm.cpp):
//   per-channel sums:  batch_norm_reduce.comp (workgroups of (block, channel),
//                      blocks of kBlockLen values: short loops for lavapipe's
//                      65535-iteration limit, many groups for few channels),
//                      then batch_norm_finish.comp (one group per channel)
//   batch_norm:        sums -> statistics [2,C] in scratch -> batch_norm_apply.comp
//   batch_norm_inference:        batch_norm_apply.comp with the given statistics
//   batch_norm_backward_reduce:  sums with dy -> the [4,C] output
//   batch_norm_backward:         batch_norm_backward.comp
//   batch_norm_moving_update:    sums -> statistics in scratch -> batch_norm_moving.comp
// Scratch: the partials [C][blocks][4] at 0, the statistics [2,C] after them.
#include <algorithm>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors shaders/batch_norm_reduce.comp.
struct ReducePush {
  uint32_t n, channels, inner, blocks;
  uint32_t block_len, shift_stride, with_dy;
};
static_assert(sizeof(ReducePush) == 28);
// Mirrors shaders/batch_norm_finish.comp.
struct FinishPush {
  uint32_t channels, blocks, count, shift_stride;
  uint32_t mode, given;
  float epsilon;
};
static_assert(sizeof(FinishPush) == 28);
enum : uint32_t { kStats = 0, kBackward = 1 };
// Mirrors shaders/batch_norm_apply.comp.
struct ApplyPush {
  uint32_t count, row, inner, channels;
  uint32_t var_at;
  float epsilon;
};
static_assert(sizeof(ApplyPush) == 24);
// Mirrors shaders/batch_norm_backward.comp.
struct BackwardPush {
  uint32_t count, row, inner, channels;
  float per, epsilon;
};
static_assert(sizeof(BackwardPush) == 24);
// Mirrors shaders/batch_norm_moving.comp.
struct MovingPush {
  uint32_t channels;
  float momentum;
};
static_assert(sizeof(MovingPush) == 8);

constexpr int64_t kBlockLen = 256 * 32;  // values per reduce workgroup: 32 steps per invocation
constexpr uint32_t kLocal = 256;

struct View {
  int64_t n = 0, c = 0, inner = 1;
  int64_t m() const { return n * inner; }
};
View view_of(const Graph& g, const Node& node, int input, int64_t batch) {
  const Shape s = g.node(node.inputs[static_cast<size_t>(input)]).shape.resolved(batch);
  View v{s[0], s[1], 1};
  for (int d = 2; d < s.rank(); ++d) v.inner *= s[d];
  return v;
}
View view_of(const KernelArgs& a, int input) { return view_of(*a.graph, *a.node, input, a.batch); }

int64_t blocks_of(const View& v) { return std::max<int64_t>(1, (v.m() + kBlockLen - 1) / kBlockLen); }
VkDeviceSize part_bytes(const View& v) { return static_cast<VkDeviceSize>(v.c * blocks_of(v) * 4 * 4); }
VkDeviceSize round_up(VkDeviceSize b) { return (b + kSliceAlign - 1) / kSliceAlign * kSliceAlign; }

// The per-channel results into `out` (mode kStats: [2,C]; kBackward: [4,C]).
// x: the values; dy: with the backward's sums; given_mean/given_var: the
// inference mode's statistics (else the batch's, shifted by x's first value).
void channel_results(const KernelArgs& a, const View& v, const Slice& x, const Slice* dy, const Slice* given_mean,
                     const Slice* given_var, uint32_t mode, const Slice& out) {
  u32(a, v.n * v.c * v.inner);
  const int64_t blocks = blocks_of(v);
  const Slice part = a.scratch.sub(0, part_bytes(v));
  const uint32_t shift_stride = given_mean ? 1u : u32(a, v.inner);
  const Slice& shift = given_mean ? *given_mean : x;
  const ReducePush rp{.n = u32(a, v.n), .channels = u32(a, v.c), .inner = u32(a, v.inner), .blocks = u32(a, blocks),
                      .block_len = u32(a, kBlockLen), .shift_stride = shift_stride, .with_dy = dy ? 1u : 0u};
  a.rec->dispatch("batch_norm_reduce", {x, dy ? *dy : x, shift, part}, rp, capped(blocks, a.rec->max_groups(0)),
                  capped(v.c, a.rec->max_groups(1)));
  const FinishPush fp{.channels = rp.channels, .blocks = rp.blocks, .count = u32(a, v.m()), .shift_stride = shift_stride,
                      .mode = mode, .given = given_mean ? 1u : 0u,
                      .epsilon = mode == kBackward ? static_cast<float>(a.node->attrs.f("epsilon")) : 0.0f};
  a.rec->dispatch("batch_norm_finish", {part, shift, given_var ? *given_var : shift, out}, fp,
                  capped(v.c, a.rec->max_groups(0)));
}

// y = (x - mean) * gamma / sqrt(var + eps) + beta; var at var_at in its buffer.
void apply(const KernelArgs& a, const View& v, const Slice& mean, const Slice& var, uint32_t var_at) {
  const uint32_t count = u32(a, v.n * v.c * v.inner);
  if (count == 0) return;
  const uint32_t groups = (count + kLocal - 1) / kLocal;
  const uint32_t gx = std::max<uint32_t>(1, std::min(groups, a.rec->max_groups(0)));
  const ApplyPush p{.count = count, .row = gx * kLocal, .inner = u32(a, v.inner), .channels = u32(a, v.c),
                    .var_at = var_at, .epsilon = static_cast<float>(a.node->attrs.f("epsilon"))};
  a.rec->dispatch("batch_norm_apply", {a.in[0], a.in[1], a.in[2], mean, var, a.out}, p, gx, (groups + gx - 1) / gx);
}

// inputs: x, gamma, beta
void batch_norm(const KernelArgs& a) {
  const View v = view_of(a, 0);
  if (v.m() == 0) return;
  const Slice stats = a.scratch.sub(round_up(part_bytes(v)), static_cast<VkDeviceSize>(2 * v.c * 4));
  channel_results(a, v, a.in[0], nullptr, nullptr, nullptr, kStats, stats);
  apply(a, v, stats, stats, u32(a, v.c));
}

// inputs: x, gamma, beta, mean, variance
void batch_norm_inference(const KernelArgs& a) { apply(a, view_of(a, 0), a.in[3], a.in[4], 0); }

// inputs: dy, x [, mean, variance]
void backward_reduce(const KernelArgs& a) {
  const View v = view_of(a, 1);
  const bool given = a.node->inputs.size() == 4;
  channel_results(a, v, a.in[1], &a.in[0], given ? &a.in[2] : nullptr, given ? &a.in[3] : nullptr, kBackward, a.out);
}

// inputs: dy, x, gamma, reduction [4,C]
void backward(const KernelArgs& a) {
  const View v = view_of(a, 1);
  const uint32_t count = u32(a, v.n * v.c * v.inner);
  if (count == 0) return;
  const uint32_t groups = (count + kLocal - 1) / kLocal;
  const uint32_t gx = std::max<uint32_t>(1, std::min(groups, a.rec->max_groups(0)));
  const BackwardPush p{.count = count, .row = gx * kLocal, .inner = u32(a, v.inner), .channels = u32(a, v.c),
                       .per = 1.0f / static_cast<float>(v.m()), .epsilon = static_cast<float>(a.node->attrs.f("epsilon"))};
  a.rec->dispatch("batch_norm_backward", {a.in[0], a.in[1], a.in[2], a.in[3], a.out}, p, gx, (groups + gx - 1) / gx);
}

// inputs: x, moving_mean, moving_variance (written in place)
void moving_update(const KernelArgs& a) {
  const View v = view_of(a, 0);
  if (v.m() == 0) return;
  const Slice stats = a.scratch.sub(round_up(part_bytes(v)), static_cast<VkDeviceSize>(2 * v.c * 4));
  channel_results(a, v, a.in[0], nullptr, nullptr, nullptr, kStats, stats);
  const MovingPush p{u32(a, v.c), static_cast<float>(a.node->attrs.f("momentum"))};
  a.rec->dispatch("batch_norm_moving", {stats, a.in[1], a.in[2]}, p, groups_for(v.c, kLocal, *a.rec));
}

// The partials at max_batch, and (with_stats) the [2,C] statistics after them.
template <int input, bool with_stats>
size_t scratch(const Graph& g, const Node& n, int64_t max_batch) {
  const View v = view_of(g, n, input, max_batch);
  return static_cast<size_t>(round_up(part_bytes(v)) + (with_stats ? 2 * v.c * 4 : 0) + kSliceAlign);
}

const KernelEntry kEntries[] = {
    {ops::id::batch_norm, batch_norm, scratch<0, true>},
    {ops::id::batch_norm_inference, batch_norm_inference, nullptr},
    {ops::id::batch_norm_backward_reduce, backward_reduce, scratch<1, false>},
    {ops::id::batch_norm_backward, backward, nullptr},
    {ops::id::batch_norm_moving_update, moving_update, scratch<0, true>},
};
}  // namespace

KernelTable batch_norm_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
