// Recording a VulkanExecutable's step for one batch size: the prologue (the
// staged batch, zeroed status words), every kernel's dispatches, the host
// steps' device parts (gathers into host-visible memory) at which the step
// splits into several command buffers, and the epilogue (targets and status
// words copied to the read-back buffer).
#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/op.h>

#include "executable.h"
#include "recorder.h"

namespace gg::vk {

void VulkanExecutable::record_prologue(VkCommandBuffer cmd, int64_t batch) {
  barrier_device_all(cmd);  // after the previous step and variable transfers, also their reads of what this step writes
  if (!feeds_.mapped())
    for (size_t i = 0; i < placeholders_.size(); ++i) {
      const VkBufferCopy region{feed_offset_[i], feed_offset_[i], value_bytes(g_.node(placeholders_[i]), batch)};
      if (region.size) vkCmdCopyBuffer(cmd, feed_staging_.handle(), feeds_.handle(), 1, &region);
    }
  vkCmdFillBuffer(cmd, status_.handle(), 0, VK_WHOLE_SIZE, 0);
  barrier_device_all(cmd);
}

void VulkanExecutable::record_epilogue(VkCommandBuffer cmd, const std::vector<Slice>& slot, int64_t batch) {
  barrier_device_all(cmd);
  for (NodeId t : targets_) {
    const Slice& s = slot[static_cast<size_t>(t)];
    const VkDeviceSize bytes = value_bytes(g_.node(t), batch);
    if (!bytes || s.buffer == VK_NULL_HANDLE) continue;
    const VkBufferCopy region{s.offset, readback_offset_[t], bytes};
    vkCmdCopyBuffer(cmd, s.buffer, readback_.handle(), 1, &region);
  }
  const VkBufferCopy status{0, status_offset_, status_.bytes()};
  vkCmdCopyBuffer(cmd, status_.handle(), readback_.handle(), 1, &status);
  // Also makes the step's shader writes to the variables visible to a mapped read_variable.
  barrier_to_host(cmd);
}

VulkanExecutable::Recorded& VulkanExecutable::recorded(int64_t batch) {
  if (auto it = recorded_.find(batch); it != recorded_.end()) return it->second;
  Recorded r;
  const uint32_t sets = static_cast<uint32_t>(steps_.size() * 8 + 8);  // kernels record at most a few dispatches each
  // A dispatch takes one storage set, and one texel set when it reads texel buffers.
  const VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, sets * kBindings},
                                         {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, sets * kTexelBindings}};
  VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pi.maxSets = 2 * sets;
  pi.poolSizeCount = 2;
  pi.pPoolSizes = sizes;
  check(vkCreateDescriptorPool(ctx_.device(), &pi, nullptr, &r.pool), "vkCreateDescriptorPool");
  try {
    record(r, batch);
  } catch (...) {  // a kernel refused (a BackendError): nothing of the recording may outlive it
    if (!r.cmds.empty()) vkFreeCommandBuffers(ctx_.device(), backend_.command_pool(), static_cast<uint32_t>(r.cmds.size()), r.cmds.data());
    vkDestroyDescriptorPool(ctx_.device(), r.pool, nullptr);
    for (VkBufferView v : r.views) vkDestroyBufferView(ctx_.device(), v, nullptr);
    throw;
  }
  return recorded_.emplace(batch, r).first->second;
}

void VulkanExecutable::record(Recorded& r, int64_t batch) {
  auto begin = [&] {
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = backend_.command_pool();
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    check(vkAllocateCommandBuffers(ctx_.device(), &ai, &cmd), "vkAllocateCommandBuffers");
    r.cmds.push_back(cmd);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
    return cmd;
  };
  VkCommandBuffer cmd = begin();
  const Slice dummy{status_.handle(), 0, 4};
  CommandRecorder rec(ctx_, backend_.pipelines(), cmd, r.pool, dummy, r.views);
  KernelArgs a;
  a.graph = &g_;
  a.batch = batch;
  a.rec = &rec;
  a.scratch = {scratch_.handle(), 0, scratch_.bytes()};
  std::vector<Slice> slot = slot_;  // aliases resolved per recording
  if (queries_) vkCmdResetQueryPool(cmd, queries_, 0, static_cast<uint32_t>(steps_.size() + 1));
  record_prologue(cmd, batch);
  if (queries_) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, 0);
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Node& n = *steps_[k].node;
    if (const KernelEntry& e = *steps_[k].kernel; e.host) {
      // The device's part: gather the inputs into the host-visible output.
      if (e.gather_from) {
        VkDeviceSize at = 0;
        for (size_t i = static_cast<size_t>(e.gather_from(n)); i < n.inputs.size(); ++i) {
          const Slice& src = slot[static_cast<size_t>(n.inputs[i])];
          const VkDeviceSize bytes = value_bytes(g_.node(n.inputs[i]), batch);
          const Slice& dst = slot[static_cast<size_t>(n.id)];
          rec.copy({src.buffer, src.offset, bytes}, {dst.buffer, dst.offset + at, bytes});
          at += bytes;
        }
      }
      barrier_to_host(cmd);
      check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
      r.host_after.push_back(k);
      // The host's part runs between the two buffers; the next one starts after it.
      cmd = begin();
      rec.set_command_buffer(cmd);
      rec.full_barrier();
      if (queries_) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, static_cast<uint32_t>(k + 1));
      continue;
    }
    struct Stamp {  // closes step k's interval, whichever way the step ends
      VkCommandBuffer cmd;
      VkQueryPool q;
      uint32_t index;
      ~Stamp() {
        if (q) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, q, index);
      }
    } stamp{cmd, queries_, static_cast<uint32_t>(k + 1)};
    if (!steps_[k].kernel->record || steps_[k].skip) {  // an alias, or a relu its conv applied on the same bytes
      slot[static_cast<size_t>(n.id)] = slot[static_cast<size_t>(n.inputs[0])];
      continue;
    }
    a.node = &n;
    a.relu_epilogue = steps_[k].relu_epilogue;
    for (size_t i = 0; i < n.inputs.size(); ++i) a.in[i] = slot[static_cast<size_t>(n.inputs[i])];
    a.out = slot[static_cast<size_t>(n.id)];
    a.status = {status_.handle(), aligned(4) * k, 4};
    steps_[k].kernel->record(a);
  }
  record_epilogue(cmd, slot, batch);
  check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
}

}  // namespace gg::vk
