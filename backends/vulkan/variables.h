// The Vulkan Backend object: the graph's variables (parameters, optimizer
// state, constants) in one device buffer that lives as long as the backend,
// the host's reads and writes of them (read_variable/write_variable), and
// what its executables share: the context, the pipelines, the command pool,
// the communicator.
#pragma once
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/graph.h>

#include "context.h"
#include "kernels.h"
#include "memory.h"
#include "pipelines.h"

namespace gg::vk {

inline VkDeviceSize aligned(VkDeviceSize n, VkDeviceSize to = kSliceAlign) { return (n + to - 1) / to * to; }
inline VkDeviceSize value_bytes(const Node& n, int64_t batch) { return static_cast<VkDeviceSize>(n.shape.numel(batch)) * 4; }

class VulkanBackend final : public Backend {
 public:
  VulkanBackend(const Graph& graph, const BackendOptions& opt);
  ~VulkanBackend() override;

  std::string name() const override { return "vulkan"; }
  const Graph& graph() const override { return graph_; }
  std::unique_ptr<Executable> compile(const std::vector<NodeId>& targets, int64_t max_batch) override;
  void read_variable(NodeId node, std::span<float> out) const override;
  void write_variable(NodeId node, std::span<const float> values) override;

  Context& context() { return ctx_; }
  Communicator& comm() { return *comm_; }
  Pipelines& pipelines() { return pipes_; }
  VkCommandPool command_pool() const { return pool_; }
  Slice variable(NodeId id) const;

 private:
  void check_size(NodeId id, size_t got, size_t want) const;
  // Host <-> variables: in place where the host maps the buffer (unified
  // memory, automatic mode), else through a staging buffer and a copy.
  void transfer(const Slice& s, void* host, bool upload);

  Graph graph_;
  Context ctx_;
  Pipelines pipes_;
  std::shared_ptr<Communicator> comm_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  std::map<NodeId, VkDeviceSize> var_offset_;
  Buffer vars_;
};

}  // namespace gg::vk
