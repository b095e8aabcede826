// The backend registry: the frontend asks for a backend by name.
#include <graphgrad/backends/backend.h>
#include <graphgrad/backends/user_kernels.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <graphgrad/backends/cpu/cpu_backend.h>
#ifdef GRAPHGRAD_HAS_VULKAN
#include <graphgrad/backends/vulkan/vulkan_backend.h>
#endif

namespace gg {

std::vector<std::string> backend_names() {
#ifdef GRAPHGRAD_HAS_VULKAN
  return {"cpu", "vulkan"};
#else
  return {"cpu"};
#endif
}

std::vector<OpId> ops_without_kernel(std::string_view backend) {
  if (backend == "cpu") return cpu::missing_kernels();
#ifdef GRAPHGRAD_HAS_VULKAN
  if (backend == "vulkan") return vk::missing_kernels();
#endif
  throw BackendError("ops_without_kernel: backend '" + std::string(backend) + "' is not built");
}

#ifndef GRAPHGRAD_HAS_VULKAN
void register_vulkan_kernel(OpId op, UserVulkanKernel) {
  throw BackendError("register_vulkan_kernel: backend 'vulkan' is not built (op id " + std::to_string(op) + ")");
}
#endif

std::vector<uint32_t> read_spirv(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw BackendError("read_spirv: " + path + ": cannot open");
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() < 20 || bytes.size() % 4)
    throw BackendError("read_spirv: " + path + ": " + std::to_string(bytes.size()) + " bytes is no SPIR-V module");
  std::vector<uint32_t> words(bytes.size() / 4);
  std::memcpy(words.data(), bytes.data(), bytes.size());
  if (words[0] != 0x07230203u) throw BackendError("read_spirv: " + path + ": no SPIR-V magic number");
  return words;
}

std::vector<std::string> list_devices(std::string_view backend, std::string* why) {
  if (backend == "cpu") return {"0: this machine's CPU (OpenBLAS)"};
#ifdef GRAPHGRAD_HAS_VULKAN
  if (backend == "vulkan") return vk::device_descriptions(why);
#endif
  if (why) *why = "backend '" + std::string(backend) + "' is not built";
  return {};
}

std::unique_ptr<Backend> make_backend(std::string_view name, const Graph& graph, const BackendOptions& options) {
  if (name == "cpu") return cpu::make_cpu_backend(graph, options);
#ifdef GRAPHGRAD_HAS_VULKAN
  if (name == "vulkan") return vk::make_vulkan_backend(graph, options);
#else
  if (name == "vulkan")
    throw BackendError("backend 'vulkan' is not built: this build has only the cpu backend (configure with "
                       "-DGRAPHGRAD_VULKAN=ON after installing libvulkan-dev libvulkan-volk-dev glslang-tools)");
#endif
  std::string known;
  for (const auto& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
  throw BackendError("unknown backend '" + std::string(name) + "': choose one of: " + known);
}

}  // namespace gg
