// The element-wise kernels outside eltwise.def: dropout; reshape aliases its
// input. (Gradient accumulation runs add's kernel: kernels_eltwise.cpp.)
#include <algorithm>
#include <bit>

#include <graphgrad/ops/counter_rng.h>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::cpu {
namespace {
constexpr int64_t kGrain = 16384;  // elements per thread below which splitting costs more than it saves

// Every loop below reads its operands into locals and selects without a
// branch, so GCC vectorises it: through the captured KernelArgs the compiler
// must assume each store may change the pointers (out may alias an input),
// and a branch on the sign of the data mispredicts half the time.

// inputs: x, step [1] i32, sample_base [1] i32. Element j of item n has the
// global index (sample_base + n) * per_item + j.
void dropout(const KernelArgs& a) {
  const float* x = a.input(0);
  float* out = a.out;
  const auto step = static_cast<uint32_t>(a.input<int32_t>(1)[0]);
  const auto base = static_cast<uint32_t>(a.input<int32_t>(2)[0]);
  const double rate = a.node->attrs.f("rate");
  const uint32_t key = ops::dropout_key(static_cast<uint32_t>(a.node->attrs.i("seed")), step);
  const uint32_t threshold = ops::dropout_threshold(rate);
  const auto scale = static_cast<float>(1.0 / (1.0 - rate));
  const uint32_t first = base * static_cast<uint32_t>(a.node->shape.per_item());
  a.pool->parallel_for(a.out_numel(), [=](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      // keep ? x*scale : +0.0f as a bit mask (a select GCC leaves as a branch here)
      const uint32_t mask = 0u - static_cast<uint32_t>(ops::dropout_keep(key, first + static_cast<uint32_t>(i), threshold));
      out[i] = std::bit_cast<float>(std::bit_cast<uint32_t>(x[i] * scale) & mask);
    }
  }, kGrain);
}

const KernelEntry kEntries[] = {
    {ops::id::dropout, dropout, nullptr, true},
    {ops::id::reshape, nullptr, nullptr},
};
}  // namespace

KernelTable elementwise_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
