// Optimizer updates, in place on the backend's variables: the param and slot
// inputs are bound like any input and written by the shaders (adam.comp,
// sgd.comp). Adam's step count is read on the device.
#include <cmath>
#include <string>

#include <graphgrad/backends/backend.h>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors the push constants of shaders/adam.comp.
struct AdamPush {
  uint32_t count;
  float lr, beta1, beta2, epsilon, log_beta1, log_beta2;
};
static_assert(sizeof(AdamPush) == 28);
// Mirrors shaders/sgd.comp.
struct SgdPush {
  uint32_t count;
  float lr, momentum;
  uint32_t nesterov;
};
static_assert(sizeof(SgdPush) == 16);


// inputs: param, grad, m, v, step (updates done before this one)
void adam_update(const KernelArgs& a) {
  const auto& at = a.node->attrs;
  const double b1 = at.f("beta1"), b2 = at.f("beta2");
  // The logs in double here: the shader forms 1 - beta^t as -expm1(t * log(beta)).
  const AdamPush p{u32(a, a.in_numel(0)), float(at.f("lr")), float(b1), float(b2), float(at.f("epsilon")),
                   float(std::log(b1)), float(std::log(b2))};
  if (p.count == 0) return;
  a.rec->dispatch("adam", {a.in[0], a.in[1], a.in[2], a.in[3], a.in[4]}, p, groups_for(p.count, 256, *a.rec));
}

// inputs: param, grad, velocity
void sgd_update(const KernelArgs& a) {
  const auto& at = a.node->attrs;
  const SgdPush p{u32(a, a.in_numel(0)), float(at.f("lr")), float(at.f("momentum")), at.i("nesterov") != 0};
  if (p.count == 0) return;
  a.rec->dispatch("sgd", {a.in[0], a.in[1], a.in[2]}, p, groups_for(p.count, 256, *a.rec));
}

const KernelEntry kEntries[] = {
    {ops::id::adam_update, adam_update, nullptr, nullptr},
    {ops::id::sgd_update, sgd_update, nullptr, nullptr},
};
}  // namespace

KernelTable optimizer_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
