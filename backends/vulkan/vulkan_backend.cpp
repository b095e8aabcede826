// The Vulkan backend's entry points: the kernel registry, the factory, the
// device listing. The backend object is variables.h, its executables
// executable.h, the command recording recorder.h.
#include "vulkan_backend.h"

#include <graphgrad/backends/kernel_registry.h>

#include "context.h"
#include "kernels.h"
#include "variables.h"

namespace gg::vk {

namespace {
KernelRegistry<KernelEntry>& registry() {
  static KernelRegistry<KernelEntry> r{conv_kernels(), dense_kernels(), pool_kernels(), avg_pool_kernels(), elementwise_kernels(),
                                       eltwise_def_kernels(), reduce_kernels(), shape_kernels(), softmax_kernels(), loss_kernels(), optimizer_kernels(), batch_norm_kernels(),
                                       comm_kernels()};
  return r;
}
}  // namespace

const KernelEntry* find_kernel(OpId op) { return registry().find(op); }
std::vector<OpId> missing_kernels() { return registry().missing(); }
void add_kernel(const KernelEntry& e) { registry().add(e); }

std::unique_ptr<Backend> make_vulkan_backend(const Graph& graph, const BackendOptions& options) {
  registry().require_complete("vulkan");
  return std::make_unique<VulkanBackend>(graph, options);
}

std::vector<std::string> device_descriptions(std::string* why) {
  std::vector<std::string> out;
  for (const DeviceInfo& d : list_devices(why)) out.push_back(describe(d));
  return out;
}

int validation_error_count() { return Context::validation_errors(); }

}  // namespace gg::vk
