// softmax and log_softmax over any axis, softmax_cross_entropy (fused,
// stable), their backward ops, and accuracy. The softmax ops view their input
// as [outer, C, inner] (C along the axis): with inner 1 (the last axis) a row
// is contiguous and work is split by rows; otherwise by blocks of kBlock
// neighbouring inner positions, which step through C together (unit stride
// across the block). Each output element is computed by one thread in a fixed
// order, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <string>

#include <graphgrad/backends/backend.h>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::cpu {
namespace {

void softmax_row(const float* z, float* y, int64_t c) {
  const float m = *std::max_element(z, z + c);
  float s = 0;
  for (int64_t j = 0; j < c; ++j) s += (y[j] = std::exp(z[j] - m));
  const float inv = 1.0f / s;
  for (int64_t j = 0; j < c; ++j) y[j] *= inv;
}

// Labels come from data: one outside [0, C) is a bad input, not a crash.
int32_t checked_label(const KernelArgs& a, int64_t row, int64_t classes) {
  const int32_t l = a.input<int32_t>(1)[row];
  if (l < 0 || l >= classes)
    throw BackendError(a.graph->describe(a.node->id) + ": label " + std::to_string(l) + " of batch row " +
                       std::to_string(row) + " is outside [0, " + std::to_string(classes) + ")");
  return l;
}

// [outer, C, inner] around the node's axis, at the run's batch.
struct AxisView {
  int64_t outer = 1, c = 1, inner = 1;
};
AxisView axis_view(const KernelArgs& a) {
  const int axis = static_cast<int>(a.node->attrs.i("axis"));
  AxisView v;
  v.c = a.out_dim(axis);
  for (int d = 0; d < axis; ++d) v.outer *= a.out_dim(d);
  for (int d = axis + 1; d < a.node->shape.rank(); ++d) v.inner *= a.out_dim(d);
  return v;
}

constexpr int64_t kBlock = 64;  // inner positions per work item (strided case)

enum class Kind { softmax, log_softmax, softmax_backward, log_softmax_backward };

void log_softmax_row(const float* z, float* y, int64_t c) {
  const float m = *std::max_element(z, z + c);
  float s = 0;
  for (int64_t j = 0; j < c; ++j) s += std::exp(z[j] - m);
  const float ls = std::log(s);
  for (int64_t j = 0; j < c; ++j) y[j] = (z[j] - m) - ls;
}

// dy, y -> dx along one contiguous row.
void softmax_backward_row(const float* dy, const float* y, float* dx, int64_t c) {
  float dot = 0;
  for (int64_t j = 0; j < c; ++j) dot += dy[j] * y[j];
  for (int64_t j = 0; j < c; ++j) dx[j] = y[j] * (dy[j] - dot);
}
void log_softmax_backward_row(const float* dy, const float* y, float* dx, int64_t c) {
  float sum = 0;
  for (int64_t j = 0; j < c; ++j) sum += dy[j];
  for (int64_t j = 0; j < c; ++j) dx[j] = dy[j] - std::exp(y[j]) * sum;
}

// w neighbouring columns (w <= kBlock) of C elements each, `stride` apart
// along C: the same arithmetic as the row functions, per column.
template <Kind K>
void columns(const float* x, const float* y, float* out, int64_t c, int64_t stride, int64_t w) {
  float acc[kBlock], m[kBlock];
  if constexpr (K == Kind::softmax || K == Kind::log_softmax) {
    std::copy_n(x, w, m);
    for (int64_t j = 1; j < c; ++j)
      for (int64_t k = 0; k < w; ++k) m[k] = std::max(m[k], x[j * stride + k]);
    std::fill_n(acc, w, 0.0f);
    for (int64_t j = 0; j < c; ++j)
      for (int64_t k = 0; k < w; ++k) acc[k] += std::exp(x[j * stride + k] - m[k]);
    if constexpr (K == Kind::softmax) {
      for (int64_t k = 0; k < w; ++k) acc[k] = 1.0f / acc[k];
      for (int64_t j = 0; j < c; ++j)
        for (int64_t k = 0; k < w; ++k) out[j * stride + k] = std::exp(x[j * stride + k] - m[k]) * acc[k];
    } else {
      for (int64_t k = 0; k < w; ++k) acc[k] = std::log(acc[k]);
      for (int64_t j = 0; j < c; ++j)
        for (int64_t k = 0; k < w; ++k) out[j * stride + k] = (x[j * stride + k] - m[k]) - acc[k];
    }
  } else {  // x is dy
    std::fill_n(acc, w, 0.0f);
    for (int64_t j = 0; j < c; ++j)
      for (int64_t k = 0; k < w; ++k)
        acc[k] += K == Kind::softmax_backward ? x[j * stride + k] * y[j * stride + k] : x[j * stride + k];
    for (int64_t j = 0; j < c; ++j)
      for (int64_t k = 0; k < w; ++k) {
        const float d = x[j * stride + k], v = y[j * stride + k];
        out[j * stride + k] = K == Kind::softmax_backward ? v * (d - acc[k]) : d - std::exp(v) * acc[k];
      }
  }
}

// inputs: x (forward) or dy, y (backward)
template <Kind K>
void run(const KernelArgs& a) {
  const AxisView v = axis_view(a);
  const float* x = a.input(0);
  const float* y = K == Kind::softmax_backward || K == Kind::log_softmax_backward ? a.input(1) : nullptr;
  float* out = a.out;
  const int64_t c = v.c;
  if (v.inner == 1) {
    a.pool->parallel_for(v.outer, [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        if constexpr (K == Kind::softmax) softmax_row(x + r * c, out + r * c, c);
        else if constexpr (K == Kind::log_softmax) log_softmax_row(x + r * c, out + r * c, c);
        else if constexpr (K == Kind::softmax_backward) softmax_backward_row(x + r * c, y + r * c, out + r * c, c);
        else log_softmax_backward_row(x + r * c, y + r * c, out + r * c, c);
      }
    }, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, c)));
    return;
  }
  const int64_t inner = v.inner, blocks = (inner + kBlock - 1) / kBlock;
  a.pool->parallel_for(v.outer * blocks, [&](int64_t b0, int64_t b1, int) {
    for (int64_t item = b0; item < b1; ++item) {
      const int64_t o = item / blocks, i0 = (item % blocks) * kBlock;
      const int64_t off = o * c * inner + i0;
      columns<K>(x + off, y ? y + off : nullptr, out + off, c, inner, std::min(kBlock, inner - i0));
    }
  }, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, c * kBlock)));
}

// loss = mean_r (logsumexp(z_r) - z_r[label_r])
void softmax_cross_entropy(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), c = a.in_dim(0, 1);
  const float* z = a.input(0);
  double total = 0;
  for (int64_t r = 0; r < n; ++r) {
    const float* zr = z + r * c;
    const float m = *std::max_element(zr, zr + c);
    double s = 0;
    for (int64_t j = 0; j < c; ++j) s += std::exp(double(zr[j] - m));
    total += std::log(s) + m - zr[checked_label(a, r, c)];
  }
  a.out[0] = n ? static_cast<float>(total / double(n)) : 0.0f;
}

// inputs: logits, labels, dloss. dz = (softmax(z) - onehot) * dloss / N
void softmax_cross_entropy_backward(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), c = a.in_dim(0, 1);
  const float* z = a.input(0);
  const float scale = a.input(2)[0] / static_cast<float>(n);
  for (int64_t r = 0; r < n; ++r) {
    float* dz = a.out + r * c;
    softmax_row(z + r * c, dz, c);
    dz[checked_label(a, r, c)] -= 1.0f;
    for (int64_t j = 0; j < c; ++j) dz[j] *= scale;
  }
}

void accuracy(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), c = a.in_dim(0, 1);
  const float* s = a.input(0);
  int64_t correct = 0;
  for (int64_t r = 0; r < n; ++r)
    correct += (std::max_element(s + r * c, s + (r + 1) * c) - (s + r * c)) == checked_label(a, r, c);
  a.out[0] = n ? static_cast<float>(double(correct) / double(n)) : 0.0f;
}

const KernelEntry kEntries[] = {
    {ops::id::softmax, run<Kind::softmax>, nullptr},
    {ops::id::softmax_backward, run<Kind::softmax_backward>, nullptr},
    {ops::id::log_softmax, run<Kind::log_softmax>, nullptr},
    {ops::id::log_softmax_backward, run<Kind::log_softmax_backward>, nullptr},
    {ops::id::softmax_cross_entropy, softmax_cross_entropy, nullptr},
    {ops::id::softmax_cross_entropy_backward, softmax_cross_entropy_backward, nullptr},
    {ops::id::accuracy, accuracy, nullptr},
};
}  // namespace

KernelTable softmax_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
