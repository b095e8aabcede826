// The all-reduce nodes of data-parallel training (ops/data_parallel.h) on the
// Vulkan backend. allreduce_start and allreduce_wait are host steps: the
// executable copies the bucket's gradients into host-visible memory and waits
// for the device, the host scales them and starts the sum through the
// Communicator (which runs it while the next command buffer computes), and the
// wait hands the sum back. bucket_slice copies each gradient's part from the
// host-visible sum into device memory for the update. The executable
// invalidates the gathered range before the start and flushes the sum after
// the wait (host-visible memory may be non-coherent: executable.cpp).
#include <algorithm>
#include <cstring>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// inputs: [weight,] values... (already gathered into out by the device)
void allreduce_start(const HostArgs& a) {
  const int64_t n = a.out_numel();
  if (a.node->attrs.i("weighted")) {
    const float w = *static_cast<const float*>(a.in[0]);
    if (w != 1.0f) std::for_each(a.out, a.out + n, [w](float& x) { x *= w; });
  }
  a.comm->start_allreduce(static_cast<int>(a.node->attrs.i("tag")), std::span<float>(a.out, static_cast<size_t>(n)));
}

// input: start (its host buffer, which this output shares)
void allreduce_wait(const HostArgs& a) {
  a.comm->wait(static_cast<int>(a.node->attrs.i("tag")));
  const int64_t n = a.out_numel();
  const auto* in = static_cast<const float*>(a.in[0]);
  if (in != a.out) std::memcpy(a.out, in, static_cast<size_t>(n) * 4);
  if (a.node->attrs.s("reduce") == "mean") {
    const float scale = 1.0f / static_cast<float>(a.comm->size());
    std::for_each(a.out, a.out + n, [scale](float& x) { x *= scale; });
  }
}

void bucket_slice(const KernelArgs& a) {
  const auto offset = static_cast<VkDeviceSize>(a.node->attrs.i("offset")) * 4;
  a.rec->copy({a.in[0].buffer, a.in[0].offset + offset, a.out.bytes}, a.out);
}

const KernelEntry kEntries[] = {
    // The weight (input 0 when weighted) is read from the feeds; the gradients are gathered.
    {.op = ops::id::allreduce_start, .host = allreduce_start,
     .gather_from = [](const Node& n) { return static_cast<int>(n.attrs.i("weighted")); }},
    {.op = ops::id::allreduce_wait, .host = allreduce_wait},
    {.op = ops::id::bucket_slice, .record = bucket_slice},
};
}  // namespace

KernelTable comm_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
