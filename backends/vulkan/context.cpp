#include "context.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include <graphgrad/backends/backend.h>

#include "kernels.h"

namespace gg::vk {
namespace {

std::atomic<int> g_validation_errors{0};

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                     VkDebugUtilsMessageTypeFlagsEXT,
                                                     const VkDebugUtilsMessengerCallbackDataEXT* data, void*) {
  if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
    ++g_validation_errors;
    std::fprintf(stderr, "vulkan validation error: %s\n", data->pMessage);
  } else if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
    std::fprintf(stderr, "vulkan validation warning: %s\n", data->pMessage);
  }
  return VK_FALSE;
}

bool validation_requested() {
  const char* v = std::getenv("GRAPHGRAD_VULKAN_VALIDATION");
  return v && *v && *v != '0';
}

// Loads the loader once; false (with why) when the machine has none.
bool load_loader(std::string* why) {
  static const VkResult r = volkInitialize();
  if (r != VK_SUCCESS && why) *why = "no Vulkan loader (libvulkan.so.1) on this machine: install libvulkan1 and a driver (mesa-vulkan-drivers for a CPU device)";
  return r == VK_SUCCESS;
}

bool has_layer(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

VkInstance create_instance(bool validation, std::string* why) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "graphgrad";
  app.pEngineName = "graphgrad";
  app.apiVersion = VK_API_VERSION_1_1;
  std::vector<const char*> layers, extensions;
  if (validation) {
    if (has_layer("VK_LAYER_KHRONOS_validation")) {
      layers.push_back("VK_LAYER_KHRONOS_validation");
      extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    } else {
      std::fprintf(stderr, "graphgrad: GRAPHGRAD_VULKAN_VALIDATION is set but VK_LAYER_KHRONOS_validation is not installed (vulkan-validationlayers)\n");
    }
  }
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  ci.ppEnabledExtensionNames = extensions.data();
  VkInstance instance = VK_NULL_HANDLE;
  const VkResult r = vkCreateInstance(&ci, nullptr, &instance);
  if (r != VK_SUCCESS) {
    if (why) *why = std::string("vkCreateInstance failed: ") + result_name(r) + " (no Vulkan driver installed?)";
    return VK_NULL_HANDLE;
  }
  volkLoadInstance(instance);
  return instance;
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}
int type_rank(VkPhysicalDeviceType t) {  // lower is preferred
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
  }
}

int compute_family(VkPhysicalDevice pd) {
  uint32_t n = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
  std::vector<VkQueueFamilyProperties> fams(n);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, fams.data());
  int best = -1;
  for (uint32_t i = 0; i < n; ++i)
    if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      // A compute-only family is usually the dedicated async-compute engine.
      if (!(fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return static_cast<int>(i);
      if (best < 0) best = static_cast<int>(i);
    }
  return best;
}

DeviceInfo info_of(VkPhysicalDevice pd, uint32_t index) {
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES, &driver};
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &m3};
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(pd, &props);
  const bool has_driver_props = props.apiVersion >= VK_API_VERSION_1_2;
  if (!has_driver_props) m3.pNext = nullptr;
  vkGetPhysicalDeviceProperties2(pd, &p2);
  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  DeviceInfo d;
  d.index = index;
  d.name = props.deviceName;
  d.type = type_name(props.deviceType);
  d.driver = has_driver_props ? fmt::format("{} {}", driver.driverName, driver.driverInfo) : "unknown driver";
  d.api_version = props.apiVersion;
  for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) d.device_local_bytes += mem.memoryHeaps[i].size;
  d.max_storage_buffer_range = props.limits.maxStorageBufferRange;
  d.max_allocation_bytes = m3.maxMemoryAllocationSize;
  d.max_workgroup_invocations = props.limits.maxComputeWorkGroupInvocations;
  d.max_shared_bytes = props.limits.maxComputeSharedMemorySize;
  d.has_compute = compute_family(pd) >= 0;
  return d;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance instance) {
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(instance, &n, nullptr);
  std::vector<VkPhysicalDevice> pds(n);
  vkEnumeratePhysicalDevices(instance, &n, pds.data());
  return pds;
}

MemoryMode memory_mode_from_env() {
  const char* v = std::getenv("GRAPHGRAD_VULKAN_MEMORY");
  const std::string s = v ? v : "";
  if (s.empty() || s == "auto") return MemoryMode::automatic;
  if (s == "discrete") return MemoryMode::discrete;
  throw BackendError("vulkan: GRAPHGRAD_VULKAN_MEMORY=\"" + s + "\" is not auto or discrete");
}

BarrierMode barrier_mode_from_env() {
  const char* v = std::getenv("GRAPHGRAD_VULKAN_BARRIERS");
  const std::string s = v ? v : "";
  if (s.empty() || s == "hazards") return BarrierMode::hazards;
  if (s == "all") return BarrierMode::all;
  throw BackendError("vulkan: GRAPHGRAD_VULKAN_BARRIERS=\"" + s + "\" is not hazards or all");
}

uint32_t forced_max_groups_from_env() {
  const char* v = std::getenv("GRAPHGRAD_VULKAN_MAX_GROUPS");
  if (!v || !*v) return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (n < 1 || n > 65535 || *end)
    throw BackendError("vulkan: GRAPHGRAD_VULKAN_MAX_GROUPS=\"" + std::string(v) + "\" is not a group count in [1, 65535]");
  return static_cast<uint32_t>(n);
}

uint32_t forced_max_texels_from_env() {
  const char* v = std::getenv("GRAPHGRAD_VULKAN_MAX_TEXELS");
  if (!v || !*v) return 0;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  if (n < 1 || n > UINT32_MAX || *end)
    throw BackendError("vulkan: GRAPHGRAD_VULKAN_MAX_TEXELS=\"" + std::string(v) + "\" is not a texel count in [1, 2^32)");
  return static_cast<uint32_t>(n);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

const char* result_name(VkResult r) {
  switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY (the device is out of memory: try a smaller --batch)";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST (the GPU reset or the driver crashed)";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
  }
}

VkResult injected_step_fault() {
  struct Fault {
    VkResult result = VK_SUCCESS;
    long at = 0;
  };
  static const Fault fault = [] {
    Fault f;
    const char* v = std::getenv("GRAPHGRAD_VULKAN_FAULT");
    if (!v || !*v) return f;
    const std::string s = v;
    const auto atpos = s.find('@');
    const std::string kind = s.substr(0, atpos);
    char* end = nullptr;
    f.at = atpos == std::string::npos ? 0 : std::strtol(s.c_str() + atpos + 1, &end, 10);
    if (kind == "device_lost") f.result = VK_ERROR_DEVICE_LOST;
    else if (kind == "out_of_memory") f.result = VK_ERROR_OUT_OF_DEVICE_MEMORY;
    if (f.result == VK_SUCCESS || f.at < 1 || !end || *end)
      throw BackendError("vulkan: GRAPHGRAD_VULKAN_FAULT=\"" + s + "\" is not <device_lost|out_of_memory>@<step >= 1>");
    return f;
  }();
  static std::atomic<long> steps{0};
  if (fault.result == VK_SUCCESS) return VK_SUCCESS;
  return ++steps == fault.at ? fault.result : VK_SUCCESS;
}

void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) throw BackendError(fmt::format("vulkan: {} failed: {} ({})", what, result_name(r), static_cast<int>(r)));
}

std::string describe(const DeviceInfo& d) {
  return fmt::format("{}: {} ({}, {}, Vulkan {}.{}, {:.1f} GiB device-local, max buffer range {:.1f} GiB, max allocation {:.1f} GiB, "
                     "{} invocations/workgroup, {} KiB shared{})",
                     d.index, d.name, d.type, d.driver, VK_API_VERSION_MAJOR(d.api_version), VK_API_VERSION_MINOR(d.api_version),
                     double(d.device_local_bytes) / (1 << 30), double(d.max_storage_buffer_range) / (1 << 30),
                     double(d.max_allocation_bytes) / (1 << 30), d.max_workgroup_invocations, d.max_shared_bytes / 1024,
                     d.has_compute ? "" : ", NO compute queue");
}

std::vector<DeviceInfo> list_devices(std::string* why) {
  if (!load_loader(why)) return {};
  VkInstance instance = create_instance(false, why);
  if (!instance) return {};
  std::vector<DeviceInfo> out;
  uint32_t i = 0;
  for (VkPhysicalDevice pd : physical_devices(instance)) out.push_back(info_of(pd, i++));
  vkDestroyInstance(instance, nullptr);
  if (out.empty() && why) *why = "the Vulkan loader found no device (install a driver; mesa-vulkan-drivers provides lavapipe)";
  return out;
}

int Context::validation_errors() { return g_validation_errors.load(); }

Context::Context(const std::string& selector)
    : memory_mode_(memory_mode_from_env()), barrier_mode_(barrier_mode_from_env()), forced_max_groups_(forced_max_groups_from_env()),
      forced_max_texels_(forced_max_texels_from_env()) {
  std::string why;
  if (!load_loader(&why)) throw BackendError("vulkan: " + why);
  const bool validation = validation_requested();
  instance_ = create_instance(validation, &why);
  if (!instance_) throw BackendError("vulkan: " + why);
  if (validation && vkCreateDebugUtilsMessengerEXT) {
    VkDebugUtilsMessengerCreateInfoEXT mi{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mi.pfnUserCallback = on_validation_message;
    vkCreateDebugUtilsMessengerEXT(instance_, &mi, nullptr, &messenger_);
  }

  try {
    const std::vector<VkPhysicalDevice> pds = physical_devices(instance_);
    std::vector<DeviceInfo> infos;
    for (uint32_t i = 0; i < pds.size(); ++i) infos.push_back(info_of(pds[i], i));
    std::string seen;
    for (const auto& d : infos) seen += "\n  " + describe(d);
    if (infos.empty()) throw BackendError("vulkan: no Vulkan device found (install a driver; mesa-vulkan-drivers provides lavapipe)");

    int chosen = -1;
    if (selector.empty()) {
      for (size_t i = 0; i < infos.size(); ++i) {
        VkPhysicalDeviceProperties p, q;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        if (!infos[i].has_compute) continue;
        if (chosen >= 0) vkGetPhysicalDeviceProperties(pds[static_cast<size_t>(chosen)], &q);
        if (chosen < 0 || type_rank(p.deviceType) < type_rank(q.deviceType)) chosen = static_cast<int>(i);
      }
    } else if (std::all_of(selector.begin(), selector.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      const unsigned long idx = std::stoul(selector);
      if (idx < infos.size()) chosen = static_cast<int>(idx);
    } else {
      for (size_t i = 0; i < infos.size() && chosen < 0; ++i)
        if (lower(infos[i].name).find(lower(selector)) != std::string::npos) chosen = static_cast<int>(i);
    }
    if (chosen < 0)
      throw BackendError(selector.empty() ? "vulkan: no device has a compute queue; devices:" + seen
                                          : "vulkan: no device matches --device '" + selector + "'; devices:" + seen);
    physical_ = pds[static_cast<size_t>(chosen)];
    info_ = infos[static_cast<size_t>(chosen)];
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(physical_, &props);
    limits_ = props.limits;
    vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);

    // The limits the kernels rely on, named when missing.
    auto need = [&](bool ok, const std::string& what) {
      if (!ok) throw BackendError("vulkan: device " + describe(info_) + " lacks " + what);
    };
    need(info_.has_compute, "a compute queue");
    need(limits_.maxComputeWorkGroupInvocations >= 256, "256 invocations per workgroup (maxComputeWorkGroupInvocations)");
    need(limits_.maxComputeWorkGroupSize[0] >= 256, "a workgroup width of 256 (maxComputeWorkGroupSize[0])");
    need(limits_.minStorageBufferOffsetAlignment <= kSliceAlign, "storage-buffer offsets aligned to 256 bytes (minStorageBufferOffsetAlignment)");
    need(limits_.maxPushConstantsSize >= 128, "128 bytes of push constants");
    // Not checked, because the spec's minimum limits guarantee them: workgroup
    // sides of 256 x 16 at most (256-wide shaders, gemm_tiled's 16 x 16;
    // maxComputeWorkGroupSize >= 128 x 128 x 64 besides the width checked
    // above), 8320 bytes of shared memory at most (gemm_tiled's tiles;
    // maxComputeSharedMemorySize >= 16384). Group counts are capped at
    // max_groups() by every kernel. No shader assumes a subgroup size (none
    // uses subgroup operations; the reductions synchronize with barrier()).

    family_ = static_cast<uint32_t>(compute_family(physical_));
    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qi.queueFamilyIndex = family_;
    qi.queueCount = 1;
    qi.pQueuePriorities = &priority;
    VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    check(vkCreateDevice(physical_, &di, nullptr, &device_), "vkCreateDevice");
    volkLoadDevice(device_);
    vkGetDeviceQueue(device_, family_, 0, &queue_);
  } catch (...) {
    if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
    vkDestroyInstance(instance_, nullptr);
    throw;
  }
}

Context::~Context() {
  if (device_) {
    vkDeviceWaitIdle(device_);
    vkDestroyDevice(device_, nullptr);
  }
  if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
  if (instance_) vkDestroyInstance(instance_, nullptr);
}

uint32_t Context::max_groups(int axis) const {
  const uint32_t device = limits_.maxComputeWorkGroupCount[axis];
  return forced_max_groups_ ? std::min(forced_max_groups_, device) : device;
}

uint32_t Context::max_texels() const {
  const uint32_t device = limits_.maxTexelBufferElements;
  return forced_max_texels_ ? std::min(forced_max_texels_, device) : device;
}

uint32_t Context::memory_type(uint32_t type_bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const {
  uint32_t fallback = UINT32_MAX;
  for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
    if (!(type_bits & (1u << i))) continue;
    const VkMemoryPropertyFlags f = memory_.memoryTypes[i].propertyFlags;
    if ((f & required) != required) continue;
    if ((f & preferred) == preferred) return i;
    if (fallback == UINT32_MAX) fallback = i;
  }
  return fallback;
}

}  // namespace gg::vk
