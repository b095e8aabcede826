// The Vulkan side of backends/user_kernels.h: the user's SPIR-V is kept under
// the shader name "user/<op name>" (Pipelines finds it there, see
// user_shader()), and one trampoline records its dispatch for every user op.
#include <graphgrad/backends/backend.h>
#include <graphgrad/backends/user_kernels.h>
#include <graphgrad/ops/op_table.h>

#include <map>
#include <mutex>

#include "kernels.h"
#include "pipelines.h"

namespace gg {
namespace {

struct UserVk {
  std::mutex mutex;
  std::map<OpId, UserVulkanKernel> kernels;
  std::map<std::string, std::vector<uint32_t>, std::less<>> shaders;
};
UserVk& user_vk() {
  static UserVk u;
  return u;
}

std::string shader_name(OpId op) { return "user/" + std::string(ops::op_info(op).name); }

void trampoline(const vk::KernelArgs& a) {
  const OpId op = a.node->op->id();
  const UserVulkanKernel* k = nullptr;
  {
    UserVk& u = user_vk();
    std::lock_guard lock(u.mutex);
    k = &u.kernels.at(op);
  }
  const std::vector<uint8_t> push = k->push ? k->push(a) : std::vector<uint8_t>{};
  if (push.size() > 128) throw BackendError("vulkan: " + a.graph->describe(a.node->id) + ": user push constants exceed 128 bytes");
  const std::array<uint32_t, 3> groups = k->groups(a);
  std::vector<vk::Slice> bindings(a.in, a.in + a.node->inputs.size());
  bindings.push_back(a.out);
  a.rec->dispatch(shader_name(op), bindings, push.data(), static_cast<uint32_t>(push.size()), groups[0], groups[1], groups[2]);
}

}  // namespace

namespace vk {
const std::vector<uint32_t>* user_shader(std::string_view name) {
  UserVk& u = user_vk();
  std::lock_guard lock(u.mutex);
  auto it = u.shaders.find(name);
  return it == u.shaders.end() ? nullptr : &it->second;
}
}  // namespace vk

void register_vulkan_kernel(OpId op, UserVulkanKernel kernel) {
  if (kernel.spirv.size() < 5 || kernel.spirv[0] != 0x07230203u)
    throw BackendError("vulkan: the kernel for op '" + std::string(ops::op_info(op).name) + "' is not a SPIR-V module");
  if (!kernel.groups) throw BackendError("vulkan: the kernel for op '" + std::string(ops::op_info(op).name) + "' has no groups()");
  {
    UserVk& u = user_vk();
    std::lock_guard lock(u.mutex);
    if (u.kernels.count(op)) throw BackendError("vulkan: op '" + std::string(ops::op_info(op).name) + "' already has a user kernel");
    u.shaders[shader_name(op)] = kernel.spirv;
    u.kernels.emplace(op, std::move(kernel));
  }
  try {
    vk::add_kernel(vk::KernelEntry{.op = op, .record = trampoline});
  } catch (const std::logic_error& e) {
    throw BackendError(std::string("vulkan: ") + e.what());
  }
}

}  // namespace gg
