// The backend registry: the frontend asks for a backend by name.
#include <graphgrad/backends/backend.h>
#include <graphgrad/backends/cpu/cpu_backend.h>

namespace gg {

std::vector<std::string> backend_names() { return {"cpu"}; }

std::unique_ptr<Backend> make_backend(std::string_view name, const Graph& graph, const BackendOptions& options) {
  if (name == "cpu") return cpu::make_cpu_backend(graph, options);
  if (name == "vulkan")
    throw BackendError("backend 'vulkan' is not built yet: this build has only the cpu backend (use --backend cpu)");
  throw BackendError("unknown backend '" + std::string(name) + "': choose one of: cpu");
}

}  // namespace gg
