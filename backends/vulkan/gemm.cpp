#include "gemm.h"

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <cstdlib>
#include <string_view>
#include <string>

#include <graphgrad/backends/backend.h>

namespace gg::vk {

uint32_t u32(const KernelArgs& a, int64_t v) {
  if (v < 0 || v > INT32_MAX)
    throw BackendError(a.graph->describe(a.node->id) + ": " + std::to_string(v) +
                       " elements are too many for the Vulkan kernels' 32-bit indexing");
  return static_cast<uint32_t>(v);
}

uint32_t capped(int64_t n, uint32_t limit) { return static_cast<uint32_t>(std::clamp<int64_t>(n, 1, limit)); }

// GRAPHGRAD_VULKAN_GEMM=tiled|blocked overrides the choice (tests run both).
bool gemm_tiled(const Recorder& r) {
  const char* v = std::getenv("GRAPHGRAD_VULKAN_GEMM");
  if (v && std::string_view(v) == "tiled") return true;
  if (v && std::string_view(v) == "blocked") return false;
  return r.gpu();
}

void record_gemm(const KernelArgs& a, const Slice& sa, const Slice& sb, const Slice& sc, const GemmPush& p,
                 const Slice& bias) {
  const Recorder& r = *a.rec;
  if (p.bias != GemmBias::none && bias.buffer == VK_NULL_HANDLE)
    throw std::logic_error("record_gemm: " + a.graph->describe(a.node->id) + ": a bias epilogue without a bias buffer");
  const Slice b = p.bias != GemmBias::none ? bias : sc;  // bound either way; unread without a bias
  if (gemm_tiled(r)) {
    // gemm_tiled.comp: one 16x16 group per 64x64 tile of C (x: columns, y: rows, z: batch).
    a.rec->dispatch("gemm_tiled", {sa, sb, sc, b}, p, capped((int64_t(p.n) + 63) / 64, r.max_groups(0)),
                    capped((int64_t(p.m) + 63) / 64, r.max_groups(1)), capped(p.batch, r.max_groups(2)));
    return;
  }
  // gemm.comp: 16 invocations per group, each an 8x4 block of C (gemm_v4: 8x8);
  // groups along x walk 64-column (128-column) blocks, along y 8-row blocks,
  // along z the batch.
  // gemm_v4.comp where B's rows are whole, aligned vec4s (one vec4 fetch for a block's 4 columns).
  const bool v4 = !p.trans_b && p.n % 4 == 0 && p.off_b % 4 == 0 && p.stride_b % 4 == 0 && p.outer_b % 4 == 0 && sb.bytes % 16 == 0;
  const int64_t cols_per_group = v4 ? 16 * 8 : 16 * 4;
  a.rec->dispatch_texels(v4 ? "gemm_v4" : "gemm", {sc, b}, {sa, sb}, p,
                         capped((int64_t(p.n) + cols_per_group - 1) / cols_per_group, r.max_groups(0)),
                         capped((int64_t(p.m) + 7) / 8, r.max_groups(1)), capped(p.batch, r.max_groups(2)), v4 ? 2u : 0u);
}

}  // namespace gg::vk
