// Kernels for ops defined outside graphgrad's tree. A user op is a gg::Op
// subclass (graph/op.h: its shape rule, gradient rule and FLOP count) whose
// id() comes from ops::register_op_id("name") (ops/op_table.h); these
// functions give it a kernel on each backend:
//   - the CPU: a function over the inputs' and output's float data;
//   - Vulkan: the user's own SPIR-V compute shader, whose storage buffers
//     (set 0) are the op's inputs at bindings 0..k-1 and its output at k, with
//     up to 128 bytes of push constants and the group counts the user computes.
// Register before compiling a graph that uses the op. Semantics are the
// user's: the op-table's tests cannot cover an op they do not know.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <graphgrad/backends/node_view.h>
#include <graphgrad/graph/op.h>

namespace gg {

struct UserCpuArgs : NodeView {
  std::vector<const float*> inputs;  // i32 inputs are passed as their bytes: reinterpret them
  float* out = nullptr;
  // Runs fn(begin, end) over [0, n) on the backend's threads (in parallel above min_chunk items each).
  std::function<void(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t min_chunk)> parallel_for;
};
using UserCpuKernel = std::function<void(const UserCpuArgs&)>;

struct UserVulkanKernel {
  std::vector<uint32_t> spirv;  // a compute shader with entry point "main"
  // Push-constant bytes for a node at a batch size (at most 128; may be empty).
  std::function<std::vector<uint8_t>(const NodeView&)> push;
  // Workgroup counts (x, y, z) for a node at a batch size.
  std::function<std::array<uint32_t, 3>(const NodeView&)> groups;
};

// Throws BackendError when the op already has a kernel on that backend, the
// SPIR-V is not a SPIR-V module, or the backend is not built.
void register_cpu_kernel(OpId op, UserCpuKernel kernel);
void register_vulkan_kernel(OpId op, UserVulkanKernel kernel);

// The SPIR-V words of a .spv file (glslangValidator -V output); throws BackendError naming the file.
std::vector<uint32_t> read_spirv(const std::string& path);

}  // namespace gg
