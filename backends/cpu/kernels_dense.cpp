// dense and matmul: one sgemm each, split across the pool.
#include <algorithm>

#include "gemm.h"
#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::cpu {
namespace {

// y = x W + b: y is filled with b first so the gemm accumulates onto it.
void dense_forward(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), in = a.in_dim(0, 1), out = a.out_dim(1);
  const bool has_bias = a.node->inputs.size() == 3;
  if (has_bias) {
    const float* b = a.input(2);
    for (int64_t i = 0; i < n; ++i) std::copy(b, b + out, a.out + i * out);
  }
  sgemm(*a.pool, false, false, n, out, in, 1.0f, a.input(0), in, a.input(1), out, has_bias ? 1.0f : 0.0f, a.out, out);
}

void matmul(const KernelArgs& a) {
  const bool ta = a.node->attrs.i("trans_a"), tb = a.node->attrs.i("trans_b");
  const int64_t ar = a.in_dim(0, 0), ac = a.in_dim(0, 1), bc = a.in_dim(1, 1);
  const int64_t m = a.out_dim(0), n = a.out_dim(1), k = ta ? ar : ac;
  sgemm(*a.pool, ta, tb, m, n, k, 1.0f, a.input(0), ac, a.input(1), bc, 0.0f, a.out, n);
}

const KernelEntry kEntries[] = {
    {ops::id::dense, dense_forward, nullptr},
    {ops::id::matmul, matmul, nullptr},
};
}  // namespace

KernelTable dense_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
