// Reductions on Vulkan, as on the CPU (backends/cpu/kernels_reduce.cpp): the
// input's dimensions grouped into runs of reduced and kept axes, each reduced
// run taken by shaders/reduce.comp passes of at most kChunk steps per
// invocation (lavapipe ends shader loops after 65535 iterations, and short
// chunks spread a long reduction over many invocations), intermediates in
// scratch.
#include <algorithm>

#include <graphgrad/ops/op_table.h>

#include <graphgrad/backends/reduce_plan.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors the push constants of shaders/reduce.comp.
struct ReducePush {
  uint32_t count, row, r, inner;
  uint32_t is_max;
  float scale;
  uint32_t chunk, blocks;
};
static_assert(sizeof(ReducePush) == 32);

constexpr int64_t kChunk = 1024;

void reduce(const KernelArgs& a) {
  ReducePlan plan(a);
  const OpId op = a.node->op->id();
  auto& runs = plan.runs;
  const int n = plan.n;
  const int64_t total = plan.total, count = plan.count;
  if (total == 0) return;
  // Passes: per reduced run, ceil(log_kChunk(size)) of them.
  int passes = 0;
  for (int i = 0; i < n; ++i)
    for (int64_t r = runs[i].reduced ? runs[i].size : 1; r > 1; r = (r + kChunk - 1) / kChunk) ++passes;
  if (passes == 0) {
    a.rec->copy(a.in[0], a.out);
    return;
  }
  // Intermediates alternate between the two halves of scratch: each pass
  // leaves at most half the elements it read.
  const VkDeviceSize half_bytes = static_cast<VkDeviceSize>((total + 1) / 2) * 4;
  const Slice half[2] = {a.scratch.sub(0, half_bytes), a.scratch.sub(half_bytes, half_bytes)};
  Slice src = a.in[0];
  int done = 0;
  for (int g = n - 1; g >= 0; --g) {
    if (!runs[g].reduced) continue;
    const int64_t outer = plan.outer(g), inner = plan.inner(g);
    while (runs[g].size > 1) {
      const int64_t r = runs[g].size, blocks = (r + kChunk - 1) / kChunk;
      const bool last = ++done == passes;
      const Slice dst = last ? a.out : half[done % 2 == 1 ? 0 : 1];
      const uint32_t outputs = u32(a, outer * blocks * inner);
      const uint32_t groups = (outputs + 255) / 256;
      const uint32_t gx = std::max<uint32_t>(1, std::min(groups, a.rec->max_groups(0)));
      const ReducePush p{.count = outputs, .row = gx * 256, .r = u32(a, r), .inner = u32(a, inner),
                         .is_max = op == ops::id::reduce_max ? 1u : 0u,
                         .scale = last && op == ops::id::reduce_mean ? static_cast<float>(1.0 / double(count)) : 1.0f,
                         .chunk = u32(a, kChunk), .blocks = u32(a, blocks)};
      a.rec->dispatch("reduce", {src, dst}, p, gx, (groups + gx - 1) / gx);
      src = dst;
      runs[g].size = blocks;
    }
  }
}

size_t reduce_scratch(const Graph& g, const Node& n, int64_t max_batch) {
  return static_cast<size_t>(g.node(n.inputs[0]).shape.numel(max_batch) + 2) * 4 + 2 * kSliceAlign;
}

const KernelEntry kEntries[] = {
    {ops::id::reduce_sum, reduce, reduce_scratch},
    {ops::id::reduce_mean, reduce, reduce_scratch},
    {ops::id::reduce_max, reduce, reduce_scratch},
};
}  // namespace

KernelTable reduce_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
