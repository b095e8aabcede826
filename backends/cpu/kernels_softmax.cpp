// softmax, softmax_cross_entropy (fused, stable), their backward ops, and
// accuracy. Rows are short (the class count), so work is split by rows.
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

void softmax(const KernelArgs& a) {
  const int64_t n = a.out_dim(0), c = a.out_dim(1);
  const float* x = a.input(0);
  a.pool->parallel_for(n, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) softmax_row(x + r * c, a.out + r * c, c);
  }, 64);
}

// inputs: dy, y. dx = y * (dy - <dy, y>)
void softmax_backward(const KernelArgs& a) {
  const int64_t n = a.out_dim(0), c = a.out_dim(1);
  const float* dy = a.input(0);
  const float* y = a.input(1);
  for (int64_t r = 0; r < n; ++r) {
    float dot = 0;
    for (int64_t j = 0; j < c; ++j) dot += dy[r * c + j] * y[r * c + j];
    for (int64_t j = 0; j < c; ++j) a.out[r * c + j] = y[r * c + j] * (dy[r * c + j] - dot);
  }
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
    {ops::id::softmax, softmax, nullptr},
    {ops::id::softmax_backward, softmax_backward, nullptr},
    {ops::id::softmax_cross_entropy, softmax_cross_entropy, nullptr},
    {ops::id::softmax_cross_entropy_backward, softmax_cross_entropy_backward, nullptr},
    {ops::id::accuracy, accuracy, nullptr},
};
}  // namespace

KernelTable softmax_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
