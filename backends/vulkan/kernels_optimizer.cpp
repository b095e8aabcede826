// Optimizer updates, in place on the backend's variables: the param and slot
// inputs are bound like any input and written by the shaders (adam.comp,
// sgd.comp, rmsprop.comp). Adam's step count and the lr_scale input are read
// on the device, since a recorded step is replayed with new feeds.
#include <cmath>
#include <string>

#include <graphgrad/backends/backend.h>

#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/optimizers.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors the push constants of shaders/adam.comp.
struct AdamPush {
  uint32_t count;
  float lr, beta1, beta2, epsilon, log_beta1, log_beta2, wd_lr;
  uint32_t has_scale;
};
static_assert(sizeof(AdamPush) == 36);
// Mirrors shaders/sgd.comp.
struct SgdPush {
  uint32_t count;
  float lr, momentum;
  uint32_t nesterov;
  float wd_lr;
  uint32_t has_scale;
};
static_assert(sizeof(SgdPush) == 24);
// Mirrors shaders/rmsprop.comp.
struct RmspropPush {
  uint32_t count;
  float lr, rho, momentum, epsilon, wd_lr;
  uint32_t has_momentum, centered, has_scale;
};
static_assert(sizeof(RmspropPush) == 36);

// The lr_scale input's buffer, or `stand_in` (never read: has_scale is 0) without one.
Slice lr_scale_or(const KernelArgs& a, const Slice& stand_in) {
  const int s = ops::lr_scale_input(*a.node);
  return s < 0 ? stand_in : a.in[s];
}


// inputs: param, grad, m, v, step (updates done before this one), [lr_scale]
void adam_update(const KernelArgs& a) {
  const auto& at = a.node->attrs;
  const double b1 = at.f("beta1"), b2 = at.f("beta2");
  // The logs in double here: the shader forms 1 - beta^t as -expm1(t * log(beta)).
  const AdamPush p{.count = u32(a, a.in_numel(0)),
                   .lr = float(at.f("lr")),
                   .beta1 = float(b1),
                   .beta2 = float(b2),
                   .epsilon = float(at.f("epsilon")),
                   .log_beta1 = float(std::log(b1)),
                   .log_beta2 = float(std::log(b2)),
                   .wd_lr = float(at.f("weight_decay") * at.f("lr")),
                   .has_scale = ops::lr_scale_input(*a.node) >= 0};
  if (p.count == 0) return;
  a.rec->dispatch("adam", {a.in[0], a.in[1], a.in[2], a.in[3], a.in[4], lr_scale_or(a, a.in[4])}, p,
                  groups_for(p.count / 4 + 1, 256, *a.rec));  // 4 elements per invocation
}

// inputs: param, grad, velocity, [lr_scale]
void sgd_update(const KernelArgs& a) {
  const auto& at = a.node->attrs;
  const SgdPush p{.count = u32(a, a.in_numel(0)),
                  .lr = float(at.f("lr")),
                  .momentum = float(at.f("momentum")),
                  .nesterov = at.i("nesterov") != 0,
                  .wd_lr = float(at.f("weight_decay") * at.f("lr")),
                  .has_scale = ops::lr_scale_input(*a.node) >= 0};
  if (p.count == 0) return;
  a.rec->dispatch("sgd", {a.in[0], a.in[1], a.in[2], lr_scale_or(a, a.in[1])}, p, groups_for(p.count, 256, *a.rec));
}

// inputs: param, grad, velocity, [momentum if attr momentum > 0],
// [average gradient if centered], [lr_scale]
void rmsprop_update(const KernelArgs& a) {
  const auto& at = a.node->attrs;
  const bool has_momentum = at.f("momentum") > 0, centered = at.i("centered") != 0;
  const RmspropPush p{.count = u32(a, a.in_numel(0)),
                      .lr = float(at.f("lr")),
                      .rho = float(at.f("rho")),
                      .momentum = float(at.f("momentum")),
                      .epsilon = float(at.f("epsilon")),
                      .wd_lr = float(at.f("weight_decay") * at.f("lr")),
                      .has_momentum = has_momentum,
                      .centered = centered,
                      .has_scale = ops::lr_scale_input(*a.node) >= 0};
  if (p.count == 0) return;
  // Absent slots are bound to the gradient (read-only here, and never touched).
  const Slice mom = has_momentum ? a.in[3] : a.in[1];
  const Slice avg = centered ? a.in[has_momentum ? 4 : 3] : a.in[1];
  a.rec->dispatch("rmsprop", {a.in[0], a.in[1], a.in[2], mom, avg, lr_scale_or(a, a.in[1])}, p,
                  groups_for(p.count, 256, *a.rec));
}

const KernelEntry kEntries[] = {
    {ops::id::adam_update, adam_update, nullptr, nullptr},
    {ops::id::sgd_update, sgd_update, nullptr, nullptr},
    {ops::id::rmsprop_update, rmsprop_update, nullptr, nullptr},
};
}  // namespace

KernelTable optimizer_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
