// The shape ops on the CPU: transpose, concat (one copy per input), slice and
// slice_backward (zeros, then dy into its window), each a StridedCopy
// (backends/strided_copy.h) of 4-byte words, f32 or i32 alike. Copies whose
// innermost run is contiguous in the destination but strided in the source
// (a transpose) go by 32x32 tiles, so that both sides stay in cache. Each
// element is written once by one thread: results do not depend on threading.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include <graphgrad/backends/strided_copy.h>
#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::cpu {
namespace {

using Word = uint32_t;
constexpr int64_t kGrain = 32768;  // elements per thread below which splitting costs more than it saves
constexpr int64_t kTile = 32;

// idx[] of the flat position `pos` over dims[0, n), skipping dimension `skip` (-1: none).
inline void unflatten(const StridedCopy& c, int n, int skip, int64_t pos, int64_t* idx) {
  for (int d = n - 1; d >= 0; --d) {
    if (d == skip) continue;
    idx[d] = pos % c.dims[d];
    pos /= c.dims[d];
  }
}

// Rows of the innermost dimension, each copied with its strides.
void copy_rows(const StridedCopy& c, const Word* src, Word* dst, ThreadPool& pool) {
  const int in = c.rank - 1;
  const int64_t len = c.dims[in], ss = c.src[in], ds = c.dst[in];
  pool.parallel_for(c.count() / len, [&](int64_t b, int64_t e, int) {
    int64_t idx[StridedCopy::kRank] = {};
    unflatten(c, in, -1, b, idx);
    for (int64_t row = b; row < e; ++row) {
      int64_t so = c.src0, dof = c.dst0;
      for (int d = 0; d < in; ++d) so += idx[d] * c.src[d], dof += idx[d] * c.dst[d];
      const Word* s = src + so;
      Word* t = dst + dof;
      if (ss == 1 && ds == 1) std::memcpy(t, s, static_cast<size_t>(len) * sizeof(Word));
      else for (int64_t j = 0; j < len; ++j) t[j * ds] = s[j * ss];
      for (int d = in - 1; d >= 0 && ++idx[d] == c.dims[d]; --d) idx[d] = 0;
    }
  }, std::max<int64_t>(1, kGrain / len));
}

// Tiles over dimension q (source stride 1) and the innermost (destination
// stride 1): reads and writes both run along cache lines.
void copy_tiles(const StridedCopy& c, int q, const Word* src, Word* dst, ThreadPool& pool) {
  const int in = c.rank - 1;
  const int64_t tq = (c.dims[q] + kTile - 1) / kTile, ti = (c.dims[in] + kTile - 1) / kTile;
  const int64_t outer = c.count() / (c.dims[q] * c.dims[in]);
  pool.parallel_for(outer * tq * ti, [&](int64_t b, int64_t e, int) {
    int64_t idx[StridedCopy::kRank] = {};
    for (int64_t item = b; item < e; ++item) {
      const int64_t t1 = item % ti, t0 = (item / ti) % tq, o = item / (ti * tq);
      unflatten(c, in, q, o, idx);
      int64_t so = c.src0, dof = c.dst0;
      for (int d = 0; d < in; ++d)
        if (d != q) so += idx[d] * c.src[d], dof += idx[d] * c.dst[d];
      const int64_t i0 = t0 * kTile, i1 = std::min(c.dims[q], i0 + kTile);
      const int64_t j0 = t1 * kTile, j1 = std::min(c.dims[in], j0 + kTile);
      const int64_t sj = c.src[in], di = c.dst[q];
      for (int64_t i = i0; i < i1; ++i) {
        const Word* s = src + so + i;
        Word* t = dst + dof + i * di;
        for (int64_t j = j0; j < j1; ++j) t[j] = s[j * sj];
      }
    }
  }, std::max<int64_t>(1, kGrain / (kTile * kTile)));
}

void run_copy(const StridedCopy& c, const void* src, void* dst, ThreadPool& pool) {
  const auto* s = static_cast<const Word*>(src);
  auto* t = static_cast<Word*>(dst);
  if (c.rank == 0) {  // a single element
    t[c.dst0] = s[c.src0];
    return;
  }
  const int in = c.rank - 1;
  if (c.dst[in] == 1 && c.src[in] != 1)
    for (int q = 0; q < in; ++q)
      if (c.src[q] == 1) return copy_tiles(c, q, s, t, pool);
  copy_rows(c, s, t, pool);
}

void transpose(const KernelArgs& a) { run_copy(shape_copy::transpose(a), a.in[0], a.out, *a.pool); }

void slice(const KernelArgs& a) { run_copy(shape_copy::slice(a, false), a.in[0], a.out, *a.pool); }

void slice_backward(const KernelArgs& a) {
  const int64_t n = a.out_numel();
  float* out = a.out;
  a.pool->parallel_for(n, [out](int64_t b, int64_t e, int) {
    std::memset(out + b, 0, static_cast<size_t>(e - b) * sizeof(float));
  }, kGrain * 4);
  run_copy(shape_copy::slice(a, true), a.in[0], a.out, *a.pool);
}

void concat(const KernelArgs& a) {
  const auto axis = static_cast<int>(a.node->attrs.i("axis"));
  int64_t at = 0;
  for (int k = 0; k < static_cast<int>(a.node->inputs.size()); ++k) {
    run_copy(shape_copy::concat(a, k, at), a.in[k], a.out, *a.pool);
    at += a.in_dim(k, axis);
  }
}

const KernelEntry kEntries[] = {
    {ops::id::transpose, transpose, nullptr},
    {ops::id::concat, concat, nullptr},
    {ops::id::slice, slice, nullptr},
    {ops::id::slice_backward, slice_backward, nullptr},
};
}  // namespace

KernelTable shape_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
