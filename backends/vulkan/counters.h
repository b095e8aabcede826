// Counters of what the backend did with memory and dispatches, for tests that
// must see a code path taken (tests/test_vulkan_memory.cpp): the discrete
// memory mode maps no device-local buffer and moves data through staging
// copies, and a forced GRAPHGRAD_VULKAN_MAX_GROUPS makes the kernels use 2-D
// grids, and a forced GRAPHGRAD_VULKAN_MAX_TEXELS the storage-buffer
// variants of the texel shaders. Internal (not installed); process-wide, never reset by the backend.
#pragma once
#include <atomic>
#include <cstdint>

namespace gg::vk {

struct Counters {
  std::atomic<uint64_t> device_local_mapped{0};  // device-local buffers the host mapped
  std::atomic<uint64_t> staging_copies{0};       // host<->device copies through a staging buffer
  std::atomic<uint64_t> direct_transfers{0};     // host reads/writes of a mapped device-local buffer
  std::atomic<uint64_t> flushes{0};              // vkFlushMappedMemoryRanges calls
  std::atomic<uint64_t> invalidates{0};          // vkInvalidateMappedMemoryRanges calls
  std::atomic<uint64_t> emulated_noncoherent{0}; // host buffers given a shadow view (memory.h)
  std::atomic<uint64_t> spilled_grids{0};        // dispatches with max_groups(0) groups along x and more along y or z
  std::atomic<uint64_t> texel_dispatches{0};     // dispatches reading through texel buffers
  std::atomic<uint64_t> texel_fallbacks{0};      // texel dispatches run as <shader>_ssbo (an input past max_texels())
  // Dispatches recorded (what fusion saves: tests/test_vulkan_fusion.cpp). Counted
  // in Pipelines::get, which the recorder calls once per dispatch it records.
  std::atomic<uint64_t> dispatches{0};
};

Counters& counters();

}  // namespace gg::vk
