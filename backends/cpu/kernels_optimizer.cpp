// Optimizer updates, in place on the backend's variables (formulas in
// ops/optimizers.h). The learning rate is the attr lr times the optional
// lr_scale input, formed in double before the cast to float, so a scale of 1
// gives the bits an update without lr_scale gives.
#include <cmath>

#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/optimizers.h>

#include "kernels.h"

namespace gg::cpu {
namespace {
constexpr int64_t kGrain = 16384;

// The attr lr times the node's lr_scale input (1 without one), in double.
double learning_rate(const KernelArgs& a) {
  const int s = ops::lr_scale_input(*a.node);
  return a.node->attrs.f("lr") * (s < 0 ? 1.0 : double(a.input<float>(s)[0]));
}

// Keras's decoupled weight decay, before the update: p -= p * (wd * lr).
// Skipped when 0, where p - p * 0 would still turn -0 into +0 and inf into NaN.
inline float decayed(float p, float wd_lr) { return wd_lr != 0.0f ? p - p * wd_lr : p; }

// inputs: param, grad, m, v, step (updates done before this one), [lr_scale]
void adam_update(const KernelArgs& a) {
  const auto& at = a.node->attrs;
  const double b1 = at.f("beta1"), b2 = at.f("beta2");
  const double t = double(a.input<int32_t>(4)[0]) + 1.0;
  const double lr = learning_rate(a);
  const auto lr_t = static_cast<float>(lr * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t)));
  const auto wd_lr = static_cast<float>(at.f("weight_decay") * lr);
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
      p[i] = decayed(p[i], wd_lr) - lr_t * m[i] / (std::sqrt(v[i]) + eps);
    }
  }, kGrain);
}

// inputs: param, grad, velocity, [lr_scale]
void sgd_update(const KernelArgs& a) {
  const auto& at = a.node->attrs;
  const double lr_d = learning_rate(a);
  const auto lr = static_cast<float>(lr_d), mu = static_cast<float>(at.f("momentum"));
  const auto wd_lr = static_cast<float>(at.f("weight_decay") * lr_d);
  const bool nesterov = at.i("nesterov");
  float* p = a.inout(0);
  const float* g = a.input(1);
  float* vel = a.inout(2);
  a.pool->parallel_for(a.in_numel(0), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      vel[i] = mu * vel[i] - lr * g[i];
      p[i] = decayed(p[i], wd_lr) + (nesterov ? mu * vel[i] - lr * g[i] : vel[i]);
    }
  }, kGrain);
}

// inputs: param, grad, velocity, [momentum if attr momentum > 0],
// [average gradient if centered], [lr_scale]
void rmsprop_update(const KernelArgs& a) {
  const auto& at = a.node->attrs;
  const double lr_d = learning_rate(a);
  const auto lr = static_cast<float>(lr_d), wd_lr = static_cast<float>(at.f("weight_decay") * lr_d);
  const auto rho = static_cast<float>(at.f("rho")), eps = static_cast<float>(at.f("epsilon"));
  const auto mu = static_cast<float>(at.f("momentum"));
  const bool has_momentum = at.f("momentum") > 0, centered = at.i("centered") != 0;
  float* p = a.inout(0);
  const float* g = a.input(1);
  float* vel = a.inout(2);
  float* mom = has_momentum ? a.inout(3) : nullptr;
  float* avg = centered ? a.inout(has_momentum ? 4 : 3) : nullptr;
  a.pool->parallel_for(a.in_numel(0), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const float gi = g[i];
      vel[i] = rho * vel[i] + (1.0f - rho) * (gi * gi);
      float denom;
      if (centered) {
        avg[i] = rho * avg[i] + (1.0f - rho) * gi;
        denom = vel[i] - avg[i] * avg[i] + eps;
      } else {
        denom = vel[i] + eps;
      }
      const float increment = lr * gi / std::sqrt(denom);
      float step = increment;
      if (has_momentum) step = mom[i] = mu * mom[i] + increment;
      p[i] = decayed(p[i], wd_lr) - step;
    }
  }, kGrain);
}

const KernelEntry kEntries[] = {
    {ops::id::adam_update, adam_update, nullptr},
    {ops::id::sgd_update, sgd_update, nullptr},
    {ops::id::rmsprop_update, rmsprop_update, nullptr},
};
}  // namespace

KernelTable optimizer_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
