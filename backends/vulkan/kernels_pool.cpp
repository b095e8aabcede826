// max_pool2d forward and backward: one invocation per output (forward) or,
// backward, per window where windows do not overlap (stride >= pool), else
// per input element (a gather over the windows containing it).
// Both take each window's first maximum in row-major order, the rule every
// backend follows.
#include <string>

#include <graphgrad/backends/backend.h>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors the push constants of shaders/max_pool.comp and shaders/max_pool_backward.comp.
struct PoolPush {
  uint32_t count, h, w, oh, ow, pool, stride;
};
static_assert(sizeof(PoolPush) == 28);


// The geometry from x (input x_input) and the attributes; count left 0.
PoolPush geometry(const KernelArgs& a, int x_input) {
  const int64_t p = a.node->attrs.i("pool"), s = a.node->attrs.i("stride");
  const int64_t h = a.in_dim(x_input, 2), w = a.in_dim(x_input, 3);
  u32(a, a.in_numel(x_input));
  return {0, uint32_t(h), uint32_t(w), uint32_t((h - p) / s + 1), uint32_t((w - p) / s + 1), uint32_t(p), uint32_t(s)};
}

void max_pool2d(const KernelArgs& a) {
  PoolPush p = geometry(a, 0);
  p.count = u32(a, a.out_numel());
  if (p.count == 0) return;
  a.rec->dispatch_texels("max_pool", {a.out}, {a.in[0]}, p, groups_for(p.count, 256, *a.rec));
}

// inputs: dy, x
void max_pool2d_backward(const KernelArgs& a) {
  PoolPush p = geometry(a, 1);
  p.count = u32(a, a.out_numel());
  if (p.count == 0) return;
  if (p.stride >= p.pool) {  // windows do not overlap: one invocation per window
    // Elements in no window (a gap between windows, or rows/columns past the last) stay 0.
    if (p.stride > p.pool || (p.oh - 1) * p.stride + p.pool < p.h || (p.ow - 1) * p.stride + p.pool < p.w) a.rec->fill(a.out, 0);
    p.count = u32(a, a.in_numel(0));
    if (p.count == 0) return;
    a.rec->dispatch_texels("max_pool_backward_windows", {a.out}, {a.in[0], a.in[1]}, p, groups_for(p.count, 256, *a.rec));
    return;
  }
  a.rec->dispatch_texels("max_pool_backward", {a.out}, {a.in[0], a.in[1]}, p, groups_for(p.count, 256, *a.rec));
}

const KernelEntry kEntries[] = {
    {ops::id::max_pool2d, max_pool2d, nullptr, nullptr},
    {ops::id::max_pool2d_backward, max_pool2d_backward, nullptr, nullptr},
};
}  // namespace

KernelTable pool_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
