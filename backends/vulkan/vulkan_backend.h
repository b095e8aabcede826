// The Vulkan backend: every op of the graph (forward, backward, optimizer
// updates) as compute shaders, recorded once into a command buffer per batch
// size and re-submitted each run with only the fed batch uploaded.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>

namespace gg::vk {

std::unique_ptr<Backend> make_vulkan_backend(const Graph& graph, const BackendOptions& options);

// One line per device the Vulkan loader sees; `why` says why there are none.
std::vector<std::string> device_descriptions(std::string* why);

// Validation-layer errors seen so far (with GRAPHGRAD_VULKAN_VALIDATION=1).
int validation_error_count();

// Built-in compute ops without a Vulkan kernel (ops_without_kernel("vulkan")).
std::vector<OpId> missing_kernels();

}  // namespace gg::vk
