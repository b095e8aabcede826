// softmax, softmax_cross_entropy (fused, stable), their backward ops, and
// accuracy. Per-row ops run one workgroup per row (softmax.comp,
// softmax_backward.comp); the scalar ones reduce in a single workgroup
// (xent_reduce.comp). A label outside [0, classes) sets the status word
// (the CPU backend throws at that point; here the runtime reports it after
// the run with status_error).
#include <algorithm>
#include <string>

#include <graphgrad/backends/backend.h>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors the push constants of shaders/softmax.comp and shaders/xent_reduce.comp.
struct RowsPush {
  uint32_t rows, cols, mode;
};
static_assert(sizeof(RowsPush) == 12);
enum : uint32_t { kSoftmax = 0, kXentBackward = 1 };  // softmax.comp
enum : uint32_t { kXentLoss = 0, kAccuracy = 1 };     // xent_reduce.comp
// Mirrors shaders/softmax_backward.comp.
struct SoftmaxBackwardPush {
  uint32_t rows, cols;
};
static_assert(sizeof(SoftmaxBackwardPush) == 8);

constexpr const char* kLabelError = "a label is outside [0, classes)";


// One workgroup per row, capped (the shaders loop over rows).
uint32_t row_groups(const KernelArgs& a, uint32_t rows) {
  return std::clamp<uint32_t>(rows, 1, a.rec->max_groups(0));
}

// Rows and columns of input 0 ([N,C]); also checks the element count.
RowsPush rows_of(const KernelArgs& a, uint32_t mode) {
  u32(a, a.in_numel(0));
  return {uint32_t(a.in_dim(0, 0)), uint32_t(a.in_dim(0, 1)), mode};
}

void softmax(const KernelArgs& a) {
  const RowsPush p = rows_of(a, kSoftmax);
  if (p.rows == 0 || p.cols == 0) return;
  // labels, dloss and status are unused in this mode; bind x in their place
  a.rec->dispatch("softmax", {a.in[0], a.in[0], a.in[0], a.out, a.status}, p, row_groups(a, p.rows));
}

// inputs: dy, y
void softmax_backward(const KernelArgs& a) {
  const RowsPush r = rows_of(a, 0);
  if (r.rows == 0 || r.cols == 0) return;
  const SoftmaxBackwardPush p{r.rows, r.cols};
  a.rec->dispatch("softmax_backward", {a.in[0], a.in[1], a.out}, p, row_groups(a, p.rows));
}

// inputs: logits, labels. A scalar: the mean of logsumexp(z) - z[label].
void reduce(const KernelArgs& a, uint32_t mode) {
  const RowsPush p = rows_of(a, mode);
  if (p.rows == 0) {  // the CPU's 0 for an empty batch
    a.rec->fill(a.out, 0);
    return;
  }
  a.rec->dispatch("xent_reduce", {a.in[0], a.in[1], a.out, a.status}, p, 1);
}
void softmax_cross_entropy(const KernelArgs& a) { reduce(a, kXentLoss); }
void accuracy(const KernelArgs& a) { reduce(a, kAccuracy); }

// inputs: logits, labels, dloss. dz = (softmax(z) - onehot) * dloss / N
void softmax_cross_entropy_backward(const KernelArgs& a) {
  const RowsPush p = rows_of(a, kXentBackward);
  if (p.rows == 0 || p.cols == 0) return;
  a.rec->dispatch("softmax", {a.in[0], a.in[1], a.in[2], a.out, a.status}, p, row_groups(a, p.rows));
}

const KernelEntry kEntries[] = {
    {ops::id::softmax, softmax, nullptr, nullptr},
    {ops::id::softmax_backward, softmax_backward, nullptr, nullptr},
    {ops::id::softmax_cross_entropy, softmax_cross_entropy, nullptr, kLabelError},
    {ops::id::softmax_cross_entropy_backward, softmax_cross_entropy_backward, nullptr, kLabelError},
    {ops::id::accuracy, accuracy, nullptr, kLabelError},
};
}  // namespace

KernelTable softmax_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
