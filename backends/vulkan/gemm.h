// Recording shaders/gemm.comp, shared by the conv and dense kernels.
#pragma once
#include "kernels.h"

namespace gg::vk {

// Mirrors the push constants of shaders/gemm.comp.
struct GemmPush {
  uint32_t m, n, k, trans_a, trans_b, batch;
  uint32_t off_a, off_b, off_c, stride_a, stride_b, stride_c;
  float alpha, beta;
};
static_assert(sizeof(GemmPush) == 56);

// C = alpha op(A) op(B) + beta C over p.batch matrices.
void record_gemm(const KernelArgs& a, const Slice& sa, const Slice& sb, const Slice& sc, const GemmPush& p);

}  // namespace gg::vk
