// avg_pool2d forward and backward: one invocation per output (forward) or per
// input element (backward, a gather over the windows holding it, in the CPU's
// order). Each window divides by its count of real (non-padded) elements.
#include <graphgrad/ops/conv_geometry.h>
#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors the push constants of shaders/avg_pool.comp and shaders/avg_pool_backward.comp.
struct AvgPoolPush {
  uint32_t count, h, w, oh, ow, pool, stride, pad_top, pad_left;
};
static_assert(sizeof(AvgPoolPush) == 36);

// The geometry from the attributes; count is the output's element count.
AvgPoolPush push(const KernelArgs& a) {
  const ops::ConvGeometry g = ops::conv_geometry(a.node->attrs);
  u32(a, a.in_numel(0));
  return {.count = u32(a, a.out_numel()), .h = uint32_t(g.h), .w = uint32_t(g.w), .oh = uint32_t(g.oh),
          .ow = uint32_t(g.ow), .pool = uint32_t(g.kh), .stride = uint32_t(g.stride), .pad_top = uint32_t(g.pad_top),
          .pad_left = uint32_t(g.pad_left)};
}

void avg_pool2d(const KernelArgs& a) {
  const AvgPoolPush p = push(a);
  if (p.count == 0) return;
  a.rec->dispatch("avg_pool", {a.in[0], a.out}, p, groups_for(p.count, 256, *a.rec));
}

// input: dy
void avg_pool2d_backward(const KernelArgs& a) {
  const AvgPoolPush p = push(a);
  if (p.count == 0) return;
  a.rec->dispatch("avg_pool_backward", {a.in[0], a.out}, p, groups_for(p.count, 256, *a.rec));
}

const KernelEntry kEntries[] = {
    {ops::id::avg_pool2d, avg_pool2d, nullptr, nullptr},
    {ops::id::avg_pool2d_backward, avg_pool2d_backward, nullptr, nullptr},
};
}  // namespace

KernelTable avg_pool_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
