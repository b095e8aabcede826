// Recording shaders/gemm.comp, shared by the conv and dense kernels.
#pragma once
#include "kernels.h"

namespace gg::vk {

// The epilogue's bias: none, one per row of C (conv2d: C is [OC, pixels]) or
// one per column (dense: C is [batch, units]).
enum class GemmBias : uint32_t { none = 0, rows = 1, cols = 2 };

// Mirrors the push constants of shaders/gemm.comp and gemm_tiled.comp.
// Matrix b of the batch is (b / inner, b % inner) of a two-level batch:
// A's starts at off_a + (b / inner) * outer_a + (b % inner) * stride_a
// (likewise B); C's at off_c + b * stride_c. inner 0: one level (outer_x unused).
// The epilogue, per element of C: alpha * acc (+ beta * C), then + the bias,
// then the relu op's where(v < 0, 0, v) when `relu`: in fp32, in that order,
// so a fused bias gives the bits a separate bias_add pass after the gemm did.
struct GemmPush {
  uint32_t m, n, k, trans_a, trans_b, batch;
  uint32_t off_a, off_b, off_c, stride_a, stride_b, stride_c;
  float alpha, beta;
  uint32_t inner = 0, outer_a = 0, outer_b = 0;
  GemmBias bias = GemmBias::none;
  uint32_t relu = 0;
};
static_assert(sizeof(GemmPush) == 76);

// True when record_gemm picks gemm_tiled.comp (GPUs; GRAPHGRAD_VULKAN_GEMM=tiled),
// false for the register-blocked gemm.comp (CPU devices; GRAPHGRAD_VULKAN_GEMM=blocked).
bool gemm_tiled(const Recorder& r);

// C = alpha op(A) op(B) + beta C over p.batch matrices, then the epilogue:
// `bias` holds the bias (p.bias: whether per row or per column; unread when none).
void record_gemm(const KernelArgs& a, const Slice& sa, const Slice& sb, const Slice& sc, const GemmPush& p,
                 const Slice& bias = {});

}  // namespace gg::vk
