// dense and matmul: one gemm.comp dispatch each, plus bias_add.comp for a
// dense bias.
#include <algorithm>
#include <string>

#include <graphgrad/backends/backend.h>

#include "gemm.h"
#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors shaders/bias_add.comp.
struct BiasAddPush {
  uint32_t count, inner, channels;
};
static_assert(sizeof(BiasAddPush) == 12);




// C[m,n] = op(A) op(B) for one packed matrix each.
void gemm(const KernelArgs& a, const Slice& sa, const Slice& sb, bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
  const GemmPush p{u32(a, m), u32(a, n), u32(a, k), ta, tb, 1, 0, 0, 0, 0, 0, 0, 1.0f, 0.0f};
  record_gemm(a, sa, sb, a.out, p);
}

// inputs: x [N,in], w [in,out], b [out] (optional)
void dense(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), in = a.in_dim(0, 1), out = a.out_dim(1);
  u32(a, a.in_numel(0));
  u32(a, a.in_numel(1));
  const uint32_t total = u32(a, a.out_numel());
  if (total == 0) return;
  if (in == 0)  // an empty product: x and w have no elements to bind
    a.rec->fill(a.out, 0);
  else
    gemm(a, a.in[0], a.in[1], false, false, n, out, in);
  if (a.node->inputs.size() == 3) {
    const BiasAddPush p{total, 1, static_cast<uint32_t>(out)};
    a.rec->dispatch("bias_add", {a.out, a.in[2]}, p, groups_for(total, 256, *a.rec));
  }
}

// op(a) op(b); the batch may be the rows of the result or the inner dimension.
void matmul(const KernelArgs& a) {
  const bool ta = a.node->attrs.i("trans_a"), tb = a.node->attrs.i("trans_b");
  const int64_t ar = a.in_dim(0, 0), ac = a.in_dim(0, 1);
  const int64_t m = a.out_dim(0), n = a.out_dim(1), k = ta ? ar : ac;
  u32(a, a.in_numel(0));
  u32(a, a.in_numel(1));
  if (u32(a, a.out_numel()) == 0) return;
  if (k == 0)
    a.rec->fill(a.out, 0);
  else
    gemm(a, a.in[0], a.in[1], ta, tb, m, n, k);
}

const KernelEntry kEntries[] = {
    {ops::id::dense, dense, nullptr, nullptr},
    {ops::id::matmul, matmul, nullptr, nullptr},
};
}  // namespace

KernelTable dense_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
