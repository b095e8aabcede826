// Optimizer updates, in place on the backend's variables.
#include <cmath>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::cpu {
namespace {
constexpr int64_t kGrain = 16384;

// inputs: param, grad, m, v, step (updates done before this one)
void adam_update(const KernelArgs& a) {
  const auto& at = a.node->attrs;
  const double b1 = at.f("beta1"), b2 = at.f("beta2");
  const double t = double(a.input<int32_t>(4)[0]) + 1.0;
  const auto lr_t = static_cast<float>(at.f("lr") * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t)));
  const auto eps = static_cast<float>(at.f("epsilon"));
  const auto fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2);
  float* p = a.inout(0);
  const float* g = a.input(1);
  float* m = a.inout(2);
  float* v = a.inout(3);
  a.pool->parallel_for(a.in_numel(0), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      m[i] = fb1 * m[i] + (1.0f - fb1) * g[i];
      v[i] = fb2 * v[i] + (1.0f - fb2) * g[i] * g[i];
      p[i] -= lr_t * m[i] / (std::sqrt(v[i]) + eps);
    }
  }, kGrain);
}

// inputs: param, grad, velocity
void sgd_update(const KernelArgs& a) {
  const auto& at = a.node->attrs;
  const auto lr = static_cast<float>(at.f("lr")), mu = static_cast<float>(at.f("momentum"));
  const bool nesterov = at.i("nesterov");
  float* p = a.inout(0);
  const float* g = a.input(1);
  float* vel = a.inout(2);
  a.pool->parallel_for(a.in_numel(0), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      vel[i] = mu * vel[i] - lr * g[i];
      p[i] += nesterov ? mu * vel[i] - lr * g[i] : vel[i];
    }
  }, kGrain);
}

const KernelEntry kEntries[] = {
    {ops::id::adam_update, adam_update, nullptr},
    {ops::id::sgd_update, sgd_update, nullptr},
};
}  // namespace

KernelTable optimizer_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
