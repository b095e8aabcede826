// Element-wise kernels: relu, relu_backward, dropout, add; reshape aliases.
#include <algorithm>

#include <graphgrad/ops/counter_rng.h>

#include "kernels.h"

namespace gg::cpu {
namespace {
constexpr int64_t kGrain = 16384;  // elements per thread below which splitting costs more than it saves

void relu(const KernelArgs& a) {
  const float* x = a.input(0);
  a.pool->parallel_for(a.out_numel(), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) a.out[i] = std::max(x[i], 0.0f);
  }, kGrain);
}

// inputs: dy, y
void relu_backward(const KernelArgs& a) {
  const float* dy = a.input(0);
  const float* y = a.input(1);
  a.pool->parallel_for(a.out_numel(), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) a.out[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  }, kGrain);
}

void add(const KernelArgs& a) {
  const float* x = a.input(0);
  const float* y = a.input(1);
  a.pool->parallel_for(a.out_numel(), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) a.out[i] = x[i] + y[i];
  }, kGrain);
}

// inputs: x, step [1] i32, sample_base [1] i32. Element j of item n has the
// global index (sample_base + n) * per_item + j.
void dropout(const KernelArgs& a) {
  const float* x = a.input(0);
  const auto step = static_cast<uint32_t>(a.input<int32_t>(1)[0]);
  const auto base = static_cast<uint32_t>(a.input<int32_t>(2)[0]);
  const double rate = a.node->attrs.f("rate");
  const uint32_t key = ops::dropout_key(static_cast<uint32_t>(a.node->attrs.i("seed")), step);
  const uint32_t threshold = ops::dropout_threshold(rate);
  const auto scale = static_cast<float>(1.0 / (1.0 - rate));
  const int64_t per = a.node->shape.per_item();
  a.pool->parallel_for(a.out_numel(), [&](int64_t b, int64_t e, int) {
    const uint32_t first = base * static_cast<uint32_t>(per);
    for (int64_t i = b; i < e; ++i)
      a.out[i] = ops::dropout_keep(key, first + static_cast<uint32_t>(i), threshold) ? x[i] * scale : 0.0f;
  }, kGrain);
}

const KernelEntry kEntries[] = {
    {"relu", relu, nullptr, true},
    {"relu_backward", relu_backward, nullptr, true},
    {"add", add, nullptr, true},
    {"dropout", dropout, nullptr, true},
    {"reshape", nullptr, nullptr},
};
}  // namespace

KernelTable elementwise_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
