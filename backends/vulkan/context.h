// The Vulkan context: the loader (through volk, so a machine without
// libvulkan still runs the CPU backend), an instance, the chosen physical
// device, a logical device with one compute queue, and its limits.
#pragma once
#include <volk.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gg::vk {

// Where the backend keeps its buffers (GRAPHGRAD_VULKAN_MEMORY).
//   automatic (unset or "auto"): what the device offers. Device-local memory
//     that is also host-visible (integrated GPUs, lavapipe, resizable BAR) is
//     mapped and written in place; otherwise transfers go through staging.
//   discrete ("discrete"): as a discrete GPU whose device-local memory the
//     host cannot map, on any device (lavapipe in CI): device-local buffers
//     are never mapped, every host<->device transfer goes through a staging
//     buffer and vkCmdCopyBuffer, and host-visible memory is treated as
//     non-coherent (a non-coherent type when there is one; else the mapping
//     is emulated as non-coherent, see memory.h, so that a missing flush or
//     invalidate gives wrong results instead of passing by luck).
enum class MemoryMode { automatic, discrete };

// Where the recorder puts barriers (GRAPHGRAD_VULKAN_BARRIERS).
//   hazards (unset or "hazards"): only before a command whose accesses
//     conflict with one since the last barrier (hazards.h).
//   all ("all"): after every command, the old way: to measure what the
//     tracking saves, or to rule it out when a result looks wrong.
// The validation layer's synchronization checks report any hazard a missing
// barrier leaves (GRAPHGRAD_VULKAN_VALIDATION=1 plus
// VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
// the parity tests run them).
enum class BarrierMode { hazards, all };

struct DeviceInfo {
  uint32_t index = 0;
  std::string name, type, driver;
  uint32_t api_version = 0;
  uint64_t device_local_bytes = 0;
  uint64_t max_storage_buffer_range = 0, max_allocation_bytes = 0;
  uint32_t max_workgroup_invocations = 0, max_shared_bytes = 0;
  bool has_compute = false;
};

// Every Vulkan device the loader sees (empty when there is no loader or no
// device; `why` then says which).
std::vector<DeviceInfo> list_devices(std::string* why = nullptr);
std::string describe(const DeviceInfo& d);  // one line: "0: llvmpipe (cpu, llvmpipe 23.x, 2.0 GiB, ...)"

class Context {
 public:
  // selector: "" (prefer discrete, then integrated, virtual, cpu), an index,
  // or a case-insensitive name substring. Throws BackendError naming what is
  // missing (loader, device, a limit) and listing the devices it saw.
  explicit Context(const std::string& selector);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  VkDevice device() const { return device_; }
  VkPhysicalDevice physical() const { return physical_; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return family_; }
  const DeviceInfo& info() const { return info_; }
  const VkPhysicalDeviceLimits& limits() const { return limits_; }
  // A memory type with all `required` flags among `type_bits`; prefers one
  // that also has `preferred`. Returns UINT32_MAX when none.
  uint32_t memory_type(uint32_t type_bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred = 0) const;
  const VkPhysicalDeviceMemoryProperties& memory() const { return memory_; }
  MemoryMode memory_mode() const { return memory_mode_; }
  BarrierMode barrier_mode() const { return barrier_mode_; }
  // maxComputeWorkGroupCount[axis], or the smaller count forced for testing by
  // GRAPHGRAD_VULKAN_MAX_GROUPS=<n> (n >= 1; testing only): the backend then
  // behaves as if the device allowed n groups along each axis, so that the
  // 2-D grids (flat_index in shaders/eltwise_prelude.glsl, grid() in the
  // kernels) and the grid-stride loops run on small tensors; a dispatch over
  // the limit is a BackendError (recorder.cpp).
  uint32_t max_groups(int axis) const;
  // maxTexelBufferElements, or the smaller count forced for testing by
  // GRAPHGRAD_VULKAN_MAX_TEXELS=<n> (n >= 1; testing only): an input larger
  // than this is read through the storage-buffer variant of its shader
  // (Recorder::dispatch, shaders/texel.glsl).
  uint32_t max_texels() const;
  // Validation messages of severity error seen so far (GRAPHGRAD_VULKAN_VALIDATION=1).
  static int validation_errors();

 private:
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t family_ = 0;
  DeviceInfo info_;
  VkPhysicalDeviceLimits limits_{};
  VkPhysicalDeviceMemoryProperties memory_{};
  MemoryMode memory_mode_ = MemoryMode::automatic;
  BarrierMode barrier_mode_ = BarrierMode::hazards;
  uint32_t forced_max_groups_ = 0;  // 0: the device's
  uint32_t forced_max_texels_ = 0;  // 0: the device's
};

// Throws BackendError with the call and the VkResult's name unless it succeeded.
void check(VkResult r, const char* what);
const char* result_name(VkResult r);

// Fault injection for tests: with GRAPHGRAD_VULKAN_FAULT=<kind>@<n> (kind:
// device_lost or out_of_memory, n >= 1) the n-th training or inference step
// fails at submission with that VkResult, as a driver reports a GPU reset or
// exhausted memory; lavapipe does neither on its own, and the tests must show
// what a user then sees (the message, and an intact last checkpoint). Returns
// VK_SUCCESS for every other step, and always when the variable is unset.
VkResult injected_step_fault();

}  // namespace gg::vk
