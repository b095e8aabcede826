// softmax and log_softmax over any axis, softmax_cross_entropy (fused,
// stable), their backward ops, and accuracy. Per-row ops run one workgroup
// per row (softmax.comp, softmax_backward.comp); the softmax ops over an axis
// that is not the last ([outer, C, inner], inner > 1) run one invocation per
// column instead (softmax_cols.comp); the scalar ones reduce in a single
// workgroup (xent_reduce.comp). A label outside [0, classes) sets the status word
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
enum : uint32_t { kSoftmax = 0, kXentBackward = 1, kLogSoftmax = 2 };  // softmax.comp
enum : uint32_t { kXentLoss = 0, kAccuracy = 1 };                      // xent_reduce.comp
// Mirrors shaders/softmax_backward.comp (mode 0 softmax, 1 log_softmax).
struct SoftmaxBackwardPush {
  uint32_t rows, cols, mode;
};
static_assert(sizeof(SoftmaxBackwardPush) == 12);
// Mirrors shaders/softmax_cols.comp.
struct ColsPush {
  uint32_t count, row, cols, inner, mode;
};
static_assert(sizeof(ColsPush) == 20);
enum : uint32_t { kColsSoftmax = 0, kColsLogSoftmax = 1, kColsSoftmaxBackward = 2, kColsLogSoftmaxBackward = 3 };
constexpr uint32_t kColsLocal = 256;  // softmax_cols.comp's local size

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

// [outer, C, inner] around the node's axis, at the run's batch (checked to fit 32 bits).
struct AxisView {
  uint32_t outer = 1, cols = 1, inner = 1;
};
AxisView axis_view(const KernelArgs& a) {
  const Shape s = a.node->shape.resolved(a.batch);
  const int axis = static_cast<int>(a.node->attrs.i("axis"));
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (int d = axis + 1; d < s.rank(); ++d) inner *= s[d];
  u32(a, s.numel());
  return {uint32_t(outer), uint32_t(s[axis]), uint32_t(inner)};
}

// Along an inner axis: one invocation per column, a 2-D grid of 256-wide groups.
void columns(const KernelArgs& a, const AxisView& v, uint32_t mode, const Slice& x, const Slice& y) {
  const uint32_t count = v.outer * v.inner;
  const uint32_t groups = (count + kColsLocal - 1) / kColsLocal;
  const uint32_t gx = std::max<uint32_t>(1, std::min(groups, a.rec->max_groups(0)));
  const ColsPush p{.count = count, .row = gx * kColsLocal, .cols = v.cols, .inner = v.inner, .mode = mode};
  a.rec->dispatch("softmax_cols", {x, y, a.out}, p, gx, std::max<uint32_t>(1, (groups + gx - 1) / gx));
}

// input: x
template <bool Log>
void softmax(const KernelArgs& a) {
  const AxisView v = axis_view(a);
  if (v.outer == 0 || v.cols == 0 || v.inner == 0) return;
  if (v.inner > 1) return columns(a, v, Log ? kColsLogSoftmax : kColsSoftmax, a.in[0], a.in[0]);
  const RowsPush p{v.outer, v.cols, Log ? kLogSoftmax : kSoftmax};
  // labels, dloss and status are unused in these modes; bind x in their place
  a.rec->dispatch("softmax", {a.in[0], a.in[0], a.in[0], a.out, a.status}, p, row_groups(a, p.rows));
}

// inputs: dy, y
template <bool Log>
void softmax_backward(const KernelArgs& a) {
  const AxisView v = axis_view(a);
  if (v.outer == 0 || v.cols == 0 || v.inner == 0) return;
  if (v.inner > 1) return columns(a, v, Log ? kColsLogSoftmaxBackward : kColsSoftmaxBackward, a.in[0], a.in[1]);
  const SoftmaxBackwardPush p{v.outer, v.cols, Log ? 1u : 0u};
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
    {ops::id::softmax, softmax<false>, nullptr, nullptr},
    {ops::id::softmax_backward, softmax_backward<false>, nullptr, nullptr},
    {ops::id::log_softmax, softmax<true>, nullptr, nullptr},
    {ops::id::log_softmax_backward, softmax_backward<true>, nullptr, nullptr},
    {ops::id::softmax_cross_entropy, softmax_cross_entropy, nullptr, kLabelError},
    {ops::id::softmax_cross_entropy_backward, softmax_cross_entropy_backward, nullptr, kLabelError},
    {ops::id::accuracy, accuracy, nullptr, kLabelError},
};
}  // namespace

KernelTable softmax_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
