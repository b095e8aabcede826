// The shape ops on Vulkan: transpose, concat (one dispatch per input, into
// its place), slice and slice_backward (a fill with zeros, then dy into its
// window), each a StridedCopy (backends/strided_copy.h) run by
// shaders/strided_copy.comp, one invocation per element.
#include <algorithm>

#include <graphgrad/backends/strided_copy.h>
#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

constexpr int kShaderRank = 8;

// Mirrors the push constants of shaders/strided_copy.comp.
struct CopyPush {
  uint32_t count, row, rank, src0, dst0;
  uint32_t dims[kShaderRank], ss[kShaderRank], ds[kShaderRank];
};
static_assert(sizeof(CopyPush) == 116);

void record_copy(const KernelArgs& a, const StridedCopy& c, const Slice& src, const Slice& dst) {
  if (c.rank > kShaderRank)
    throw BackendError("vulkan: " + a.graph->describe(a.node->id) + " moves data in " + std::to_string(c.rank) +
                       " dimensions that cannot be merged; the shader takes at most 8");
  const uint32_t count = u32(a, c.count());
  const uint32_t groups = (count + 255) / 256;
  const uint32_t gx = std::max<uint32_t>(1, std::min(groups, a.rec->max_groups(0)));
  CopyPush p{.count = count, .row = gx * 256, .rank = static_cast<uint32_t>(c.rank), .src0 = u32(a, c.src0),
             .dst0 = u32(a, c.dst0), .dims = {}, .ss = {}, .ds = {}};
  for (int d = 0; d < c.rank; ++d) p.dims[d] = u32(a, c.dims[d]), p.ss[d] = u32(a, c.src[d]), p.ds[d] = u32(a, c.dst[d]);
  a.rec->dispatch("strided_copy", {src, dst}, p, gx, (groups + gx - 1) / gx);
}

void transpose(const KernelArgs& a) { record_copy(a, shape_copy::transpose(a), a.in[0], a.out); }

void slice(const KernelArgs& a) { record_copy(a, shape_copy::slice(a, false), a.in[0], a.out); }

void slice_backward(const KernelArgs& a) {
  a.rec->fill(a.out, 0);
  record_copy(a, shape_copy::slice(a, true), a.in[0], a.out);
}

void concat(const KernelArgs& a) {
  const auto axis = static_cast<int>(a.node->attrs.i("axis"));
  int64_t at = 0;
  for (int k = 0; k < static_cast<int>(a.node->inputs.size()); ++k) {
    record_copy(a, shape_copy::concat(a, k, at), a.in[k], a.out);
    at += a.in_dim(k, axis);
  }
}

const KernelEntry kEntries[] = {
    {ops::id::transpose, transpose},
    {ops::id::concat, concat},
    {ops::id::slice, slice},
    {ops::id::slice_backward, slice_backward},
};
}  // namespace

KernelTable shape_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
