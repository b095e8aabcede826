// The losses with a mean reduction (softmax_cross_entropy_soft,
// bce_with_logits, nll_loss) and their backward ops on Vulkan: the forward
// scalars reduce in a single workgroup (loss_reduce.comp), the gradients run
// one invocation per row or element (loss_backward.comp). The mean divides by
// the run's batch (or element count), from the resolved shapes. A label
// outside [0, classes) sets the status word (the CPU backend throws at that
// point; here the runtime reports it after the run with status_error).
#include <algorithm>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors shaders/loss_reduce.comp.
struct ReducePush {
  uint32_t rows, cols, mode;
};
static_assert(sizeof(ReducePush) == 12);
enum : uint32_t { kSoftXent = 0, kBce = 1, kNll = 2 };

// Mirrors shaders/loss_backward.comp.
struct BackwardPush {
  uint32_t items, row, cols, divisor, mode;
};
static_assert(sizeof(BackwardPush) == 20);
enum : uint32_t { kSoftXentLogits = 0, kSoftXentTargets = 1, kBceLogits = 2, kBceTargets = 3, kNllBackward = 4 };
constexpr uint32_t kLocal = 256;  // loss_backward.comp's local size

constexpr const char* kLabelError = "a label is outside [0, classes)";

// inputs: x, targets or labels. rows = 0 gives 0, as on the CPU.
void reduce(const KernelArgs& a, uint32_t rows, uint32_t cols, uint32_t mode) {
  a.rec->dispatch("loss_reduce", {a.in[0], a.in[1], a.out, a.status}, ReducePush{rows, cols, mode}, 1);
}
void soft_xent(const KernelArgs& a) {
  u32(a, a.in_numel(0));
  reduce(a, uint32_t(a.in_dim(0, 0)), uint32_t(a.in_dim(0, 1)), kSoftXent);
}
void bce(const KernelArgs& a) { reduce(a, u32(a, a.in_numel(0)), 1, kBce); }
void nll(const KernelArgs& a) {
  u32(a, a.in_numel(0));
  reduce(a, uint32_t(a.in_dim(0, 0)), uint32_t(a.in_dim(0, 1)), kNll);
}

// inputs: x, targets or labels, dloss.
void backward(const KernelArgs& a, uint32_t items, uint32_t cols, uint32_t divisor, uint32_t mode) {
  if (items == 0) return;
  const uint32_t groups = (items + kLocal - 1) / kLocal;
  const uint32_t gx = std::max<uint32_t>(1, std::min(groups, a.rec->max_groups(0)));
  const BackwardPush p{.items = items, .row = gx * kLocal, .cols = cols, .divisor = divisor, .mode = mode};
  a.rec->dispatch("loss_backward", {a.in[0], a.in[1], a.in[2], a.out, a.status}, p, gx,
                  std::max<uint32_t>(1, (groups + gx - 1) / gx));
}
void soft_xent_backward(const KernelArgs& a) {
  u32(a, a.in_numel(0));
  const uint32_t rows = uint32_t(a.in_dim(0, 0)), cols = uint32_t(a.in_dim(0, 1));
  backward(a, rows, cols, rows, a.node->attrs.i("wrt") == 0 ? kSoftXentLogits : kSoftXentTargets);
}
void bce_backward(const KernelArgs& a) {
  const uint32_t count = u32(a, a.in_numel(0));
  backward(a, count, 1, count, a.node->attrs.i("wrt") == 0 ? kBceLogits : kBceTargets);
}
void nll_backward(const KernelArgs& a) {
  const uint32_t count = u32(a, a.in_numel(0));
  backward(a, count, uint32_t(a.in_dim(0, 1)), uint32_t(a.in_dim(0, 0)), kNllBackward);
}

const KernelEntry kEntries[] = {
    {ops::id::softmax_cross_entropy_soft, soft_xent, nullptr, nullptr},
    {ops::id::softmax_cross_entropy_soft_backward, soft_xent_backward, nullptr, nullptr},
    {ops::id::bce_with_logits, bce, nullptr, nullptr},
    {ops::id::bce_with_logits_backward, bce_backward, nullptr, nullptr},
    {ops::id::nll_loss, nll, nullptr, kLabelError},
    {ops::id::nll_loss_backward, nll_backward, nullptr, kLabelError},
};
}  // namespace

KernelTable loss_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
