// The all-reduce nodes of data-parallel training (ops/data_parallel.h), run
// through the backend's Communicator on the thread that runs the graph.
#include <algorithm>
#include <cstring>
#include <span>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::cpu {
namespace {

// inputs: [weight,] values...: copies them, scaled, into one flat buffer and starts the sum.
void allreduce_start(const KernelArgs& a) {
  const bool weighted = a.node->attrs.i("weighted");
  const float w = weighted ? a.input(0)[0] : 1.0f;
  float* out = a.out;
  for (size_t i = weighted ? 1 : 0; i < a.node->inputs.size(); ++i) {
    const auto n = a.in_numel(static_cast<int>(i));
    const float* v = a.input(static_cast<int>(i));
    if (w == 1.0f) std::memcpy(out, v, static_cast<size_t>(n) * 4);
    else for (int64_t j = 0; j < n; ++j) out[j] = w * v[j];
    out += n;
  }
  a.comm->start_allreduce(static_cast<int>(a.node->attrs.i("tag")), std::span<float>(a.out, static_cast<size_t>(a.out_numel())));
}

// input: start; waits for the sum (in place when planned so), then the mean when asked.
void allreduce_wait(const KernelArgs& a) {
  a.comm->wait(static_cast<int>(a.node->attrs.i("tag")));
  const float* in = a.input(0);
  const int64_t n = a.out_numel();
  const float scale = a.node->attrs.s("reduce") == "mean" ? 1.0f / static_cast<float>(a.comm->size()) : 1.0f;
  if (in != a.out) std::memcpy(a.out, in, static_cast<size_t>(n) * 4);
  if (scale != 1.0f) std::for_each(a.out, a.out + n, [scale](float& x) { x *= scale; });
}

void bucket_slice(const KernelArgs& a) {
  std::memcpy(a.out, a.input(0) + a.node->attrs.i("offset"), static_cast<size_t>(a.out_numel()) * 4);
}

const KernelEntry kEntries[] = {
    {ops::id::allreduce_start, allreduce_start, nullptr},
    {ops::id::allreduce_wait, allreduce_wait, nullptr, /*in_place=*/true},
    {ops::id::bucket_slice, bucket_slice, nullptr},
};
}  // namespace

KernelTable comm_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
