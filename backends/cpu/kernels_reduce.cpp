// Reductions: sum, mean and max over any set of axes. The input's dimensions
// are grouped into runs of reduced and kept axes; each pass reduces the
// innermost reduced run, seen as [outer, R, inner] -> [outer, inner], into
// scratch or, last, the output. Each output element is reduced by one thread
// in a fixed order, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <graphgrad/ops/op_table.h>

#include <graphgrad/backends/reduce_plan.h>

#include "kernels.h"

namespace gg::cpu {
namespace {

constexpr int64_t kBlock = 256;  // inner elements per parallel item

// max that keeps a NaN once it has seen one (PyTorch's amax propagates NaN).
inline float max_nan(float m, float v) { return (v > m || v != v) ? v : m; }

void pass(const float* x, float* y, int64_t outer, int64_t r, int64_t inner, bool is_max, float scale, ThreadPool& pool) {
  if (inner == 1) {
    pool.parallel_for(outer, [=](int64_t b, int64_t e, int) {
      for (int64_t o = b; o < e; ++o) {
        const float* row = x + o * r;
        float acc[8];
        int64_t i = 0;
        if (r >= 8) {
          std::copy_n(row, 8, acc);
          for (i = 8; i + 8 <= r; i += 8)
            for (int l = 0; l < 8; ++l) acc[l] = is_max ? max_nan(acc[l], row[i + l]) : acc[l] + row[i + l];
          for (int l = 1; l < 8; ++l) acc[0] = is_max ? max_nan(acc[0], acc[l]) : acc[0] + acc[l];
        } else {
          acc[0] = row[0];
          i = 1;
        }
        for (; i < r; ++i) acc[0] = is_max ? max_nan(acc[0], row[i]) : acc[0] + row[i];
        y[o] = acc[0] * scale;
      }
    }, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, r)));
    return;
  }
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  pool.parallel_for(outer * blocks, [=](int64_t b, int64_t e, int) {
    for (int64_t item = b; item < e; ++item) {
      const int64_t o = item / blocks, i0 = (item % blocks) * kBlock, i1 = std::min(inner, i0 + kBlock);
      float* dst = y + o * inner;
      const float* src = x + o * r * inner;
      std::copy(src + i0, src + i1, dst + i0);
      for (int64_t k = 1; k < r; ++k) {
        const float* s = src + k * inner;
        if (is_max)
          for (int64_t i = i0; i < i1; ++i) dst[i] = max_nan(dst[i], s[i]);
        else
          for (int64_t i = i0; i < i1; ++i) dst[i] += s[i];
      }
      if (scale != 1.0f)
        for (int64_t i = i0; i < i1; ++i) dst[i] *= scale;
    }
  }, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, r * kBlock)));
}

void reduce(const KernelArgs& a) {
  ReducePlan plan(a);
  const OpId op = a.node->op->id();
  const float* src = a.input(0);
  int reductions = 0;
  for (int i = 0; i < plan.n; ++i) reductions += plan.runs[i].reduced;
  const float scale = op == ops::id::reduce_mean ? static_cast<float>(1.0 / double(plan.count)) : 1.0f;
  if (reductions == 0) {  // nothing to reduce: a copy (the mean of one element each)
    if (src != a.out) std::memcpy(a.out, src, static_cast<size_t>(plan.total) * sizeof(float));
    return;
  }
  // Intermediates alternate between the two halves of scratch: each is at most
  // half the one before.
  float* half[2] = {a.scratch, a.scratch + (plan.total + 1) / 2};
  int done = 0;
  for (int g = plan.n - 1; g >= 0; --g) {
    if (!plan.runs[g].reduced) continue;
    const bool last = ++done == reductions;
    float* dst = last ? a.out : half[done % 2 == 1 ? 0 : 1];
    pass(src, dst, plan.outer(g), plan.runs[g].size, plan.inner(g), op == ops::id::reduce_max, last ? scale : 1.0f, *a.pool);
    src = dst;
    plan.runs[g].size = 1;  // reduced away: later passes see it as size 1
  }
}

size_t reduce_scratch(const Graph& g, const Node& n, int64_t max_batch, int) {
  return static_cast<size_t>(g.node(n.inputs[0]).shape.numel(max_batch) + 2);
}

const KernelEntry kEntries[] = {
    {ops::id::reduce_sum, reduce, reduce_scratch, false},
    {ops::id::reduce_mean, reduce, reduce_scratch, false},
    {ops::id::reduce_max, reduce, reduce_scratch, false},
};
}  // namespace

KernelTable reduce_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
