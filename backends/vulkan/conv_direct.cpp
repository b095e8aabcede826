// Recording the direct convolution shaders (conv_direct.h).
#include "conv_direct.h"

#include <algorithm>

#include "gemm.h"

namespace gg::vk {
namespace {

// Mirrors shaders/conv_push.glsl.
struct DirectPush {
  uint32_t n, c, h, w, oc, kh, kw, oh, ow;
  int32_t stride, pad_top, pad_left;
  uint32_t bias, off, inside, relu;
};
static_assert(sizeof(DirectPush) == 64);

// Per invocation and per group, as in the shaders.
constexpr int64_t kChannelBlock = 16;  // OB of conv_forward, CB of conv_input_grad
constexpr int64_t kWeightChannelBlock = 8;  // OB of conv_weight_grad
constexpr int64_t kPixelsPerGroup = 64 * 8;  // local_size_x * PB
constexpr int64_t kRowsPerLane = 16, kLanes = 8;  // conv_weight_grad: RB, local_size_x

DirectPush push_of(const ops::ConvGeometry& g, int64_t images) {
  return DirectPush{.n = uint32_t(images), .c = uint32_t(g.c), .h = uint32_t(g.h), .w = uint32_t(g.w),
                    .oc = uint32_t(g.oc), .kh = uint32_t(g.kh), .kw = uint32_t(g.kw), .oh = uint32_t(g.oh),
                    .ow = uint32_t(g.ow), .stride = int32_t(g.stride), .pad_top = int32_t(g.pad_top),
                    .pad_left = int32_t(g.pad_left), .bias = 0, .off = 0,
                    // no padding on any side (the bottom and right included): the shaders drop their bounds tests
                    .inside = g.pad_top == 0 && g.pad_left == 0 && (g.oh - 1) * g.stride + g.kh <= g.h &&
                              (g.ow - 1) * g.stride + g.kw <= g.w,
                    .relu = 0};
}

int64_t blocks(int64_t n, int64_t per) { return (n + per - 1) / per; }

// Mirrors shaders/conv_weights_t.comp.
struct WeightsTPush {
  uint32_t count, oc, c, taps, padded, mode;
};

// The weights re-laid by conv_weights_t.comp (mode 0: [r][OC padded], for
// conv_forward; 1: [tap][OC][C padded], for conv_input_grad) at the start of
// the scratch, rows padded to whole channel blocks.
Slice relaid_weights(const KernelArgs& a, const ops::ConvGeometry& g, uint32_t mode) {
  const int64_t rows = mode == 0 ? g.col_rows() : g.kh * g.kw * g.oc;
  const int64_t padded = blocks(mode == 0 ? g.oc : g.c, kChannelBlock) * kChannelBlock;
  const Slice wt = a.scratch.sub(0, static_cast<VkDeviceSize>(rows * padded * 4));
  const WeightsTPush p{uint32_t(rows * padded), uint32_t(g.oc), uint32_t(g.c), uint32_t(g.kh * g.kw), uint32_t(padded), mode};
  a.rec->dispatch("conv_weights_t", {a.in[1], wt}, p, groups_for(p.count, 256, *a.rec));
  return wt;
}

// A 1-D count of blocks as x * z groups (shaders' block_index()).
void grid_xz(const Recorder& r, int64_t count, uint32_t& gx, uint32_t& gz) {
  gx = capped(count, r.max_groups(0));
  gz = capped(blocks(count, gx), r.max_groups(2));
}
}  // namespace

int64_t conv_direct_scratch(const ops::ConvGeometry& g) {
  const int64_t oc = blocks(g.oc, kChannelBlock) * kChannelBlock, c = blocks(g.c, kChannelBlock) * kChannelBlock;
  return std::max(g.col_rows() * oc, g.kh * g.kw * g.oc * c) * 4;
}

bool conv_direct(const KernelArgs& a, const ops::ConvGeometry& g) {
  const Recorder& r = *a.rec;
  if (gemm_tiled(r)) return false;
  const int64_t channel_blocks = blocks(std::max(g.oc, g.c), std::min(kChannelBlock, kWeightChannelBlock));
  const int64_t images = a.in_dim(0, 0);
  const int64_t px = std::max(images * g.out_pixels(), images * g.h * g.w);
  const int64_t x_groups = blocks(px, kPixelsPerGroup), gx = std::min<int64_t>(x_groups, r.max_groups(0));
  const int64_t w_groups = blocks(images * blocks(g.col_rows(), kRowsPerLane), kLanes);
  return channel_blocks <= r.max_groups(1) && blocks(x_groups, gx) <= r.max_groups(2) &&
         blocks(w_groups, std::min<int64_t>(w_groups, r.max_groups(0))) <= r.max_groups(2);
}

void conv_direct_forward(const KernelArgs& a, const ops::ConvGeometry& g, int64_t images) {
  DirectPush p = push_of(g, images);
  p.bias = a.node->inputs.size() == 3;
  p.relu = a.relu_epilogue;
  uint32_t gx = 0, gz = 0;
  grid_xz(*a.rec, blocks(images * g.out_pixels(), kPixelsPerGroup), gx, gz);
  const Slice bias = p.bias ? a.in[2] : a.in[1];  // unread without a bias
  const Slice wt = relaid_weights(a, g, 0);
  a.rec->dispatch_texels("conv_forward", {bias, a.out}, {a.in[0], wt}, p, gx, uint32_t(blocks(g.oc, kChannelBlock)), gz, 2);
}

void conv_direct_input_grad(const KernelArgs& a, const ops::ConvGeometry& g, int64_t images) {
  const DirectPush p = push_of(g, images);
  uint32_t gx = 0, gz = 0;
  grid_xz(*a.rec, blocks(images * g.h * g.w, kPixelsPerGroup), gx, gz);
  const Slice wt = relaid_weights(a, g, 1);
  a.rec->dispatch_texels("conv_input_grad", {a.out}, {a.in[0], wt}, p, gx, uint32_t(blocks(g.c, kChannelBlock)), gz, 2);
}

void conv_direct_weight_partials(const KernelArgs& a, const ops::ConvGeometry& g, int64_t n0, int64_t count,
                                 const Slice& partials) {
  DirectPush p = push_of(g, count);
  p.off = uint32_t(n0);
  uint32_t gx = 0, gz = 0;
  grid_xz(*a.rec, blocks(count * blocks(g.col_rows(), kRowsPerLane), kLanes), gx, gz);
  a.rec->dispatch_texels("conv_weight_grad", {partials}, {a.in[1], a.in[0]}, p, gx, uint32_t(blocks(g.oc, kWeightChannelBlock)), gz);
}

}  // namespace gg::vk
