// The element-wise kernels outside eltwise.def: dropout (dropout.comp);
// reshape aliases its input. (Gradient accumulation runs binary_add:
// kernels_eltwise.cpp.)
#include <string>

#include <graphgrad/backends/backend.h>
#include <graphgrad/ops/counter_rng.h>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors shaders/dropout.comp.
struct DropoutPush {
  uint32_t count, per_item, seed, threshold;
  float scale;
};
static_assert(sizeof(DropoutPush) == 20);


// inputs: x, step [1] i32, sample_base [1] i32. The key and the global indices
// are formed on the device from the step and sample_base buffers, which
// change every run while the command buffer is recorded once.
void dropout(const KernelArgs& a) {
  const double rate = a.node->attrs.f("rate");
  DropoutPush p{};
  p.count = u32(a, a.out_numel());
  p.per_item = static_cast<uint32_t>(a.node->shape.per_item());
  p.seed = static_cast<uint32_t>(a.node->attrs.i("seed"));
  p.threshold = ops::dropout_threshold(rate);
  p.scale = static_cast<float>(1.0 / (1.0 - rate));
  if (p.count == 0) return;
  a.rec->dispatch("dropout", {a.in[0], a.in[1], a.in[2], a.out}, p, groups_for(p.count / 4 + 1, 256, *a.rec));  // 4 per invocation
}

const KernelEntry kEntries[] = {
    {ops::id::dropout, dropout, nullptr, nullptr},
    {ops::id::reshape, nullptr, nullptr, nullptr},
};
}  // namespace

KernelTable elementwise_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
