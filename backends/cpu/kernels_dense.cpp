// dense and matmul: one sgemm each, split across the pool; a batched matmul
// one sgemm per output matrix.
#include <algorithm>

#include "gemm.h"
#include <graphgrad/ops/matmul_geometry.h>
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

// 2-D: one sgemm split across the pool (the MNIST net's dense gradients).
void matmul2d(const KernelArgs& a) {
  const bool ta = a.node->attrs.i("trans_a"), tb = a.node->attrs.i("trans_b");
  const int64_t ar = a.in_dim(0, 0), ac = a.in_dim(0, 1), bc = a.in_dim(1, 1);
  const int64_t m = a.out_dim(0), n = a.out_dim(1), k = ta ? ar : ac;
  sgemm(*a.pool, ta, tb, m, n, k, 1.0f, a.input(0), ac, a.input(1), bc, 0.0f, a.out, n);
}

// Batched: one sgemm per output matrix at its operands' strided offsets (a
// broadcast operand's matrix is reused in place). Small matrices: each is one
// thread's whole sgemm, threaded over the batch; large ones (enough work to
// fill the pool alone): one after another, each split across the pool as a
// 2-D product is. The choice depends on the shapes only, not the thread count.
void matmul(const KernelArgs& a) {
  if (a.in_shape(0).rank() == 2 && a.in_shape(1).rank() == 2) return matmul2d(a);
  const bool ta = a.node->attrs.i("trans_a"), tb = a.node->attrs.i("trans_b");
  const ops::MatmulGeometry g = ops::matmul_geometry(a.in_shape(0), a.in_shape(1), a.node->shape, ta, tb, a.batch);
  const float* x = a.input(0);
  const float* y = a.input(1);
  float* out = a.out;
  if (g.count == 0 || g.mat_c == 0) return;
  const auto one = [&](int64_t i, bool split) {
    int64_t oa, ob;
    g.offsets(i, oa, ob);
    float* c = out + i * g.mat_c;
    if (split) sgemm(*a.pool, ta, tb, g.m, g.n, g.k, 1.0f, x + oa, g.lda, y + ob, g.ldb, 0.0f, c, g.n);
    else sgemm1(ta, tb, g.m, g.n, g.k, 1.0f, x + oa, g.lda, y + ob, g.ldb, 0.0f, c, g.n);
  };
  if (g.count == 1 || g.m * g.n * g.k >= (int64_t(1) << 18)) {
    for (int64_t i = 0; i < g.count; ++i) one(i, true);
    return;
  }
  a.pool->parallel_for(g.count, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) one(i, false);
  }, 1);
}

const KernelEntry kEntries[] = {
    {ops::id::dense, dense_forward, nullptr},
    {ops::id::matmul, matmul, nullptr},
};
}  // namespace

KernelTable dense_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
