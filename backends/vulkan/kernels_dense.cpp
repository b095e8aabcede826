// dense and matmul: one gemm.comp dispatch each (a batched matmul: one per
// batch level beyond the two a dispatch walks); a dense bias is added in the
// gemm's epilogue (bias_add.comp only after an empty product's zero fill). On CPU devices a 2-D matmul with a transposed B first copies B
// transposed into the scratch (transpose2d.comp), so that the blocked gemm
// reads it as aligned vec4s (gemm_v4.comp) instead of gathering columns.
#include <algorithm>
#include <string>

#include <graphgrad/backends/backend.h>

#include "gemm.h"
#include <graphgrad/ops/matmul_geometry.h>
#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {

// Mirrors shaders/transpose2d.comp.
struct TransposePush {
  uint32_t rows, cols;
};

// Mirrors shaders/bias_add.comp.
struct BiasAddPush {
  uint32_t count, inner, channels;
};
static_assert(sizeof(BiasAddPush) == 12);




// C[m,n] = op(A) op(B) (+ bias[n]) for one packed matrix each.
void gemm(const KernelArgs& a, const Slice& sa, const Slice& sb, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
          const Slice* bias = nullptr) {
  const GemmPush p{.m = u32(a, m), .n = u32(a, n), .k = u32(a, k), .trans_a = ta, .trans_b = tb, .batch = 1, .off_a = 0,
                   .off_b = 0, .off_c = 0, .stride_a = 0, .stride_b = 0, .stride_c = 0, .alpha = 1.0f, .beta = 0.0f,
                   .bias = bias ? GemmBias::cols : GemmBias::none};
  record_gemm(a, sa, sb, a.out, p, bias ? *bias : Slice{});
}

// inputs: x [N,in], w [in,out], b [out] (optional)
void dense(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), in = a.in_dim(0, 1), out = a.out_dim(1);
  u32(a, a.in_numel(0));
  u32(a, a.in_numel(1));
  const uint32_t total = u32(a, a.out_numel());
  if (total == 0) return;
  const bool bias = a.node->inputs.size() == 3;
  if (in > 0) {
    gemm(a, a.in[0], a.in[1], false, false, n, out, in, bias ? &a.in[2] : nullptr);
    return;
  }
  // An empty product (x and w have no elements to bind): the bias alone.
  a.rec->fill(a.out, 0);
  if (bias) {
    const BiasAddPush p{total, 1, static_cast<uint32_t>(out)};
    a.rec->dispatch("bias_add", {a.out, a.in[2]}, p, groups_for(total, 256, *a.rec));
  }
}

// 2-D: op(a) op(b); the batch may be the rows of the result or the inner dimension.
void matmul2d(const KernelArgs& a) {
  const bool ta = a.node->attrs.i("trans_a"), tb = a.node->attrs.i("trans_b");
  const int64_t ar = a.in_dim(0, 0), ac = a.in_dim(0, 1);
  const int64_t m = a.out_dim(0), n = a.out_dim(1), k = ta ? ar : ac;
  if (k == 0) {
    a.rec->fill(a.out, 0);
  } else if (tb && !gemm_tiled(*a.rec) && n % 4 == 0) {  // B [n,k] -> [k,n] in the scratch
    const Slice bt = a.scratch.sub(0, static_cast<VkDeviceSize>(n * k * 4));
    const TransposePush tp{u32(a, n), u32(a, k)};
    a.rec->dispatch_texels("transpose2d", {bt}, {a.in[1]}, tp, groups_for(n * k, 256, *a.rec));
    gemm(a, a.in[0], bt, ta, false, m, n, k);
  } else {
    gemm(a, a.in[0], a.in[1], ta, tb, m, n, k);
  }
}

// The transposed B of matmul2d on CPU devices (allocated on every device: the
// device is not known when scratch is planned).
size_t matmul_scratch(const Graph& gr, const Node& n, int64_t max_batch) {
  const Shape& b = gr.node(n.inputs[1]).shape;
  if (!n.attrs.i("trans_b") || gr.node(n.inputs[0]).shape.rank() != 2 || b.rank() != 2) return 0;
  return static_cast<size_t>(b.resolved(max_batch).numel() * 4);
}

// Batched (matmul_geometry.h's levels): the two innermost levels are one
// dispatch (gemm's two-level batch), any further levels a loop of dispatches.
void matmul_batched(const KernelArgs& a) {
  const bool ta = a.node->attrs.i("trans_a"), tb = a.node->attrs.i("trans_b");
  const ops::MatmulGeometry g = ops::matmul_geometry(a.in_shape(0), a.in_shape(1), a.node->shape, ta, tb, a.batch);
  if (g.k == 0) {
    a.rec->fill(a.out, 0);
    return;
  }
  const int lv = g.levels;
  const ops::MatmulLevel in = lv >= 1 ? g.level[size_t(lv - 1)] : ops::MatmulLevel{};
  const ops::MatmulLevel out = lv >= 2 ? g.level[size_t(lv - 2)] : ops::MatmulLevel{};
  const int host = std::max(lv - 2, 0);  // the levels looped here
  int64_t loops = 1;
  for (int l = 0; l < host; ++l) loops *= g.level[size_t(l)].count;
  for (int64_t i = 0; i < loops; ++i) {
    // Offsets of this loop's first matrix: the host levels' digits of i.
    int64_t oa = 0, ob = 0, r = i;
    for (int l = host - 1; l >= 0; --l) {
      const ops::MatmulLevel& h = g.level[size_t(l)];
      oa += (r % h.count) * h.stride_a, ob += (r % h.count) * h.stride_b, r /= h.count;
    }
    const int64_t per = in.count * out.count;  // matrices per dispatch
    const GemmPush p{.m = u32(a, g.m), .n = u32(a, g.n), .k = u32(a, g.k), .trans_a = ta, .trans_b = tb,
                     .batch = u32(a, per), .off_a = u32(a, oa), .off_b = u32(a, ob), .off_c = u32(a, i * per * g.mat_c),
                     .stride_a = u32(a, in.stride_a), .stride_b = u32(a, in.stride_b), .stride_c = u32(a, g.mat_c),
                     .alpha = 1.0f, .beta = 0.0f, .inner = u32(a, in.count), .outer_a = u32(a, out.stride_a),
                     .outer_b = u32(a, out.stride_b)};
    record_gemm(a, a.in[0], a.in[1], a.out, p);
  }
}

void matmul(const KernelArgs& a) {
  u32(a, a.in_numel(0));
  u32(a, a.in_numel(1));
  if (u32(a, a.out_numel()) == 0) return;
  if (a.in_shape(0).rank() == 2 && a.in_shape(1).rank() == 2) return matmul2d(a);
  matmul_batched(a);
}

const KernelEntry kEntries[] = {
    {ops::id::dense, dense, nullptr, nullptr},
    {ops::id::matmul, matmul, matmul_scratch, nullptr},
};
}  // namespace

KernelTable dense_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
