#include "variables.h"

#include <cstring>

#include "counters.h"
#include "executable.h"
#include "recorder.h"

namespace gg::vk {

VulkanBackend::VulkanBackend(const Graph& graph, const BackendOptions& opt)
    : graph_(graph), ctx_(opt.device), pipes_(ctx_), comm_(opt.comm ? opt.comm : single_process_communicator()) {
  VkCommandPoolCreateInfo ci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  ci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  ci.queueFamilyIndex = ctx_.queue_family();
  check(vkCreateCommandPool(ctx_.device(), &ci, nullptr, &pool_), "vkCreateCommandPool");
  // Parameters, optimizer state and constants live in one device buffer.
  VkDeviceSize total = 0;
  for (const Node& n : graph_.nodes()) {
    const OpRole r = n.op->role();
    if (r != OpRole::parameter && r != OpRole::state && r != OpRole::constant) continue;
    var_offset_[n.id] = total;
    total += aligned(value_bytes(n, 1));
  }
  vars_ = Buffer(ctx_, total, Buffer::Where::device, "parameters and optimizer state");
  // The initial values in one transfer (one staging copy where there is one).
  std::vector<char> image(total);
  for (const auto& [id, off] : var_offset_) {
    const auto& v = graph_.initial_value(id);
    check_size(id, v.size(), value_bytes(graph_.node(id), 1) / 4);
    std::memcpy(image.data() + off, v.data(), v.size() * 4);
  }
  if (total) transfer({vars_.handle(), 0, total}, image.data(), true);
}

VulkanBackend::~VulkanBackend() {
  vkDeviceWaitIdle(ctx_.device());
  vkDestroyCommandPool(ctx_.device(), pool_, nullptr);
}

std::unique_ptr<Executable> VulkanBackend::compile(const std::vector<NodeId>& targets, int64_t max_batch) {
  return std::make_unique<VulkanExecutable>(*this, targets, max_batch);
}

void VulkanBackend::read_variable(NodeId node, std::span<float> out) const {
  const Slice s = variable(node);
  check_size(node, out.size(), s.bytes / 4);
  const_cast<VulkanBackend*>(this)->transfer(s, out.data(), false);
}

void VulkanBackend::write_variable(NodeId node, std::span<const float> values) {
  const Slice s = variable(node);
  check_size(node, values.size(), s.bytes / 4);
  transfer(s, const_cast<float*>(values.data()), true);
}

Slice VulkanBackend::variable(NodeId id) const {
  auto it = var_offset_.find(id);
  if (it == var_offset_.end()) throw BackendError("vulkan: " + graph_.describe(id) + " is not a variable of this backend");
  return {vars_.handle(), it->second, value_bytes(graph_.node(id), 1)};
}

void VulkanBackend::check_size(NodeId id, size_t got, size_t want) const {
  if (got != want)
    throw BackendError("vulkan: " + graph_.describe(id) + " holds " + std::to_string(want) + " values, not " + std::to_string(got));
}

void VulkanBackend::transfer(const Slice& s, void* host, bool upload) {
  if (char* mapped = static_cast<char*>(vars_.mapped())) {
    // No step is in flight (runs wait for theirs), and each ends with a barrier to the host.
    if (upload) {
      std::memcpy(mapped + s.offset, host, s.bytes);
      vars_.flush(s.offset, s.bytes);
    } else {
      vars_.invalidate(s.offset, s.bytes);
      std::memcpy(host, mapped + s.offset, s.bytes);
    }
    ++counters().direct_transfers;
    return;
  }
  Buffer staging(ctx_, s.bytes, Buffer::Where::host, "staging buffer");
  if (upload) {
    std::memcpy(staging.mapped(), host, s.bytes);
    staging.flush(0, s.bytes);
  }
  OneTimeCommands c(ctx_, pool_);
  barrier_device_all(c.cmd());  // after the steps that wrote (or still read) the variables
  const VkBufferCopy region{upload ? 0 : s.offset, upload ? s.offset : 0, s.bytes};
  if (upload) vkCmdCopyBuffer(c.cmd(), staging.handle(), vars_.handle(), 1, &region);
  else vkCmdCopyBuffer(c.cmd(), vars_.handle(), staging.handle(), 1, &region);
  if (upload) barrier_device_all(c.cmd());  // before the steps that read them
  else barrier_to_host(c.cmd());
  c.submit("variable copy");
  ++counters().staging_copies;
  if (!upload) {
    staging.invalidate(0, s.bytes);
    std::memcpy(host, staging.mapped(), s.bytes);
  }
}

}  // namespace gg::vk
