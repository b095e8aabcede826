// Recording shaders/gemm.comp, shared by the conv and dense kernels.
#pragma once
#include "kernels.h"

namespace gg::vk {

// Mirrors the push constants of shaders/gemm.comp and gemm_tiled.comp.
// Matrix b of the batch is (b / inner, b % inner) of a two-level batch:
// A's starts at off_a + (b / inner) * outer_a + (b % inner) * stride_a
// (likewise B); C's at off_c + b * stride_c. inner 0: one level (outer_x unused).
struct GemmPush {
  uint32_t m, n, k, trans_a, trans_b, batch;
  uint32_t off_a, off_b, off_c, stride_a, stride_b, stride_c;
  float alpha, beta;
  uint32_t inner = 0, outer_a = 0, outer_b = 0;
};
static_assert(sizeof(GemmPush) == 68);

// True when record_gemm picks gemm_tiled.comp (GPUs; GRAPHGRAD_VULKAN_GEMM=tiled),
// false for the register-blocked gemm.comp (CPU devices; GRAPHGRAD_VULKAN_GEMM=blocked).
bool gemm_tiled(const Recorder& r);

// C = alpha op(A) op(B) + beta C over p.batch matrices.
void record_gemm(const KernelArgs& a, const Slice& sa, const Slice& sb, const Slice& sc, const GemmPush& p);

}  // namespace gg::vk
