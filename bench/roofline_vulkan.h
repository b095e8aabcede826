// bench_roofline's Vulkan ceilings (roofline_vulkan.cpp), built with the Vulkan backend.
#pragma once

namespace gg::bench {

// Registers vulkan/fma_peak, vulkan/bandwidth/{texel_read,storage_read,copy},
// vulkan/dispatch_overhead and vulkan/submit_wait when list_devices("vulkan")
// finds a device; else one stderr line says why and the JSON context carries
// `vulkan_ceilings_skipped`.
void register_vulkan_ceilings();

}  // namespace gg::bench
