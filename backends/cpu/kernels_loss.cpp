// The losses with a mean reduction (softmax_cross_entropy_soft,
// bce_with_logits, nll_loss) and their backward ops. The forward sums run in
// double, in a fixed order (bce: fixed-size chunks summed in chunk order), so
// results do not depend on the thread count. The mean divides by the run's
// batch (or element count), read from the resolved shapes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include <graphgrad/backends/backend.h>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::cpu {
namespace {

constexpr int64_t kChunk = 4096;  // bce elements per partial sum

// Labels come from data: one outside [0, C) is a bad input, not a crash.
int32_t checked_label(const KernelArgs& a, int64_t row, int64_t classes) {
  const int32_t l = a.input<int32_t>(1)[row];
  if (l < 0 || l >= classes)
    throw BackendError(a.graph->describe(a.node->id) + ": label " + std::to_string(l) + " of batch row " +
                       std::to_string(row) + " is outside [0, " + std::to_string(classes) + ")");
  return l;
}

// log(sum_j exp(z_j)) of a row, with the maximum subtracted.
double log_sum_exp(const float* z, int64_t c) {
  const float m = *std::max_element(z, z + c);
  double s = 0;
  for (int64_t j = 0; j < c; ++j) s += std::exp(double(z[j] - m));
  return std::log(s) + m;
}

// inputs: logits [N,C], targets [N,C]. loss = mean_r sum_j t_rj * (lse(z_r) - z_rj)
void soft_xent(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), c = a.in_dim(0, 1);
  const float* z = a.input(0);
  const float* t = a.input(1);
  double total = 0;
  for (int64_t r = 0; r < n; ++r) {
    const float* zr = z + r * c;
    const float* tr = t + r * c;
    const double lse = log_sum_exp(zr, c);
    for (int64_t j = 0; j < c; ++j) total += double(tr[j]) * (lse - double(zr[j]));
  }
  a.out[0] = n ? static_cast<float>(total / double(n)) : 0.0f;
}

// inputs: logits, targets, dloss; attr wrt. 0: (softmax(z) - t) * dloss / N;
// 1: -log_softmax(z) * dloss / N = (lse - z) * dloss / N.
void soft_xent_backward(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), c = a.in_dim(0, 1);
  const float* z = a.input(0);
  const float* t = a.input(1);
  const float scale = a.input(2)[0] / static_cast<float>(n);
  const bool wrt_logits = a.node->attrs.i("wrt") == 0;
  a.pool->parallel_for(n, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* zr = z + r * c;
      float* o = a.out + r * c;
      if (wrt_logits) {
        const float m = *std::max_element(zr, zr + c);
        float s = 0;
        for (int64_t j = 0; j < c; ++j) s += (o[j] = std::exp(zr[j] - m));
        const float inv = 1.0f / s;
        for (int64_t j = 0; j < c; ++j) o[j] = (o[j] * inv - t[r * c + j]) * scale;
      } else {
        const float lse = static_cast<float>(log_sum_exp(zr, c));
        for (int64_t j = 0; j < c; ++j) o[j] = (lse - zr[j]) * scale;
      }
    }
  }, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, c)));
}

// PyTorch's stable form: max(x, 0) - x t + log1p(exp(-|x|)).
inline double bce_term(float x, float t) {
  const double xd = x;
  return std::max(xd, 0.0) - xd * double(t) + std::log1p(std::exp(-std::abs(xd)));
}

// inputs: logits, targets (one shape). Per-chunk partial sums (scratch, as
// doubles) added in chunk order.
void bce(const KernelArgs& a) {
  const int64_t count = a.in_numel(0);
  const float* x = a.input(0);
  const float* t = a.input(1);
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  double* part = reinterpret_cast<double*>(a.scratch);  // 64-byte aligned
  a.pool->parallel_for(chunks, [&](int64_t c0, int64_t c1, int) {
    for (int64_t k = c0; k < c1; ++k) {
      double s = 0;
      for (int64_t i = k * kChunk, e = std::min(count, i + kChunk); i < e; ++i) s += bce_term(x[i], t[i]);
      part[k] = s;
    }
  });
  double total = 0;
  for (int64_t k = 0; k < chunks; ++k) total += part[k];
  a.out[0] = count ? static_cast<float>(total / double(count)) : 0.0f;
}

size_t bce_scratch(const Graph& g, const Node& n, int64_t max_batch, int) {
  const int64_t chunks = (g.node(n.inputs[0]).shape.numel(max_batch) + kChunk - 1) / kChunk;
  return static_cast<size_t>(2 * chunks + 2);  // a double is two floats
}

// inputs: logits, targets, dloss; attr wrt. 0: (sigmoid(x) - t) * dloss / count; 1: -x * dloss / count.
void bce_backward(const KernelArgs& a) {
  const int64_t count = a.in_numel(0);
  const float* x = a.input(0);
  const float* t = a.input(1);
  const float scale = a.input(2)[0] / static_cast<float>(count);
  const bool wrt_logits = a.node->attrs.i("wrt") == 0;
  a.pool->parallel_for(count, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      if (wrt_logits) {
        const float e = std::exp(-std::abs(x[i]));  // no overflow on either side
        const float sig = x[i] >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
        a.out[i] = (sig - t[i]) * scale;
      } else {
        a.out[i] = -x[i] * scale;
      }
    }
  }, 16384);
}

// inputs: log_probs [N,C], labels [N] i32. loss = mean_r -log_probs[r, label_r]
void nll(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), c = a.in_dim(0, 1);
  const float* lp = a.input(0);
  double total = 0;
  for (int64_t r = 0; r < n; ++r) total -= lp[r * c + checked_label(a, r, c)];
  a.out[0] = n ? static_cast<float>(total / double(n)) : 0.0f;
}

// inputs: log_probs, labels, dloss. -dloss / N at [r, label_r], 0 elsewhere.
void nll_backward(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), c = a.in_dim(0, 1);
  const float g = -(a.input(2)[0] / static_cast<float>(n));
  std::memset(a.out, 0, static_cast<size_t>(n * c) * sizeof(float));
  for (int64_t r = 0; r < n; ++r) a.out[r * c + checked_label(a, r, c)] = g;
}

const KernelEntry kEntries[] = {
    {ops::id::softmax_cross_entropy_soft, soft_xent, nullptr},
    {ops::id::softmax_cross_entropy_soft_backward, soft_xent_backward, nullptr},
    {ops::id::bce_with_logits, bce, bce_scratch},
    {ops::id::bce_with_logits_backward, bce_backward, nullptr},
    {ops::id::nll_loss, nll, nullptr},
    {ops::id::nll_loss_backward, nll_backward, nullptr},
};
}  // namespace

KernelTable loss_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
