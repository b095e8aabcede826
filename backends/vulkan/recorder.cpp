#include "recorder.h"

#include <algorithm>
#include <string>

#include <graphgrad/backends/backend.h>

#include "counters.h"

namespace gg::vk {

void barrier(VkCommandBuffer cmd, VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst,
             VkAccessFlags dst_access) {
  VkMemoryBarrier b{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, src_access, dst_access};
  vkCmdPipelineBarrier(cmd, src, dst, 0, 1, &b, 0, nullptr, 0, nullptr);
}

void barrier_device_all(VkCommandBuffer cmd) {
  constexpr VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  barrier(cmd, stages, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT, stages,
          VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
}

void barrier_to_host(VkCommandBuffer cmd) {
  barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
          VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
}

namespace {
Access access(const Slice& s, bool write) { return {s.buffer, s.offset, s.offset + std::max<VkDeviceSize>(s.bytes, 4), write}; }
}  // namespace

void CommandRecorder::full_barrier() {
  barrier_device_all(cmd_);
  ++counters().barriers;
  hazards_.clear();
}

void CommandRecorder::before(const std::vector<Access>& accesses) {
  if (ctx_.barrier_mode() == BarrierMode::hazards && hazards_.conflicts(accesses)) full_barrier();
  hazards_.add(accesses);
}

void CommandRecorder::after() {
  if (ctx_.barrier_mode() == BarrierMode::all) full_barrier();
}

VkDescriptorSet CommandRecorder::allocate(VkDescriptorSetLayout layout) {
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = pool_;
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &layout;
  VkDescriptorSet set = VK_NULL_HANDLE;
  check(vkAllocateDescriptorSets(ctx_.device(), &ai, &set), "vkAllocateDescriptorSets");
  return set;
}

void CommandRecorder::dispatch(std::string_view shader, std::span<const Slice> bindings, const void* push,
                               uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
  record(shader, bindings, {}, 0, push, push_bytes, gx, gy, gz);
}

void CommandRecorder::dispatch_texels(std::string_view shader, std::span<const Slice> bindings, std::span<const Slice> texels,
                                      const void* push, uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz,
                                      uint32_t vec4_mask) {
  if (texels.size() > kTexelBindings) throw BackendError("vulkan: shader " + std::string(shader) + " binds too many texel buffers");
  bool fit = true;
  for (size_t i = 0; i < texels.size(); ++i) {
    const VkDeviceSize texel = vec4_mask >> i & 1 ? 16 : 4;
    if (texel == 16 && texels[i].bytes % 16)
      throw BackendError("vulkan: shader " + std::string(shader) + ": texel binding " + std::to_string(i) + " is not whole vec4s");
    fit = fit && (std::max<VkDeviceSize>(texels[i].bytes, texel) + texel - 1) / texel <= ctx_.max_texels();
  }
  ++counters().texel_dispatches;
  if (fit) {
    record(shader, bindings, texels, vec4_mask, push, push_bytes, gx, gy, gz);
    return;
  }
  ++counters().texel_fallbacks;
  // The storage-buffer variant reads the same operands after the storage bindings.
  std::vector<Slice> all(bindings.begin(), bindings.end());
  all.insert(all.end(), texels.begin(), texels.end());
  record(std::string(shader) + "_ssbo", all, {}, 0, push, push_bytes, gx, gy, gz);
}

void CommandRecorder::record(std::string_view shader, std::span<const Slice> bindings, std::span<const Slice> texels,
                             uint32_t vec4_mask, const void* push, uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
  if (bindings.size() > kBindings) throw BackendError("vulkan: shader " + std::string(shader) + " binds too many buffers");
  const uint32_t groups[3] = {gx, gy, gz};
  for (int axis = 0; axis < 3; ++axis)  // over the limit is undefined behaviour on a device; here an error
    if (groups[axis] > max_groups(axis))
      throw BackendError("vulkan: shader " + std::string(shader) + " dispatches " + std::to_string(groups[axis]) +
                         " workgroups along axis " + std::to_string(axis) + ", more than the device's " +
                         std::to_string(max_groups(axis)) + " (maxComputeWorkGroupCount)");
  if (gx == max_groups(0) && (gy > 1 || gz > 1)) ++counters().spilled_grids;
  const VkPipeline pipeline = pipes_.get(shader);  // first: an unknown shader throws before anything is allocated
  const uint32_t written = pipes_.written(shader);
  VkDescriptorSet sets[2] = {allocate(pipes_.set_layout()), VK_NULL_HANDLE};
  VkDescriptorBufferInfo infos[kBindings];
  VkWriteDescriptorSet writes[kBindings + kTexelBindings];
  for (uint32_t i = 0; i < kBindings; ++i) {
    const Slice& s = i < bindings.size() ? bindings[i] : dummy_;  // unused bindings still get a valid buffer
    if (s.buffer == VK_NULL_HANDLE) throw BackendError("vulkan: shader " + std::string(shader) + ": binding " + std::to_string(i) + " has no buffer");
    infos[i] = {s.buffer, s.offset, std::max<VkDeviceSize>(s.bytes, 4)};
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, nullptr, sets[0], i, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, nullptr, &infos[i], nullptr};
  }
  uint32_t n_writes = kBindings;
  VkBufferView views[kTexelBindings];
  if (!texels.empty()) {
    sets[1] = allocate(pipes_.texel_set_layout());
    for (uint32_t i = 0; i < texels.size(); ++i) {
      const Slice& t = texels[i];
      if (t.buffer == VK_NULL_HANDLE) throw BackendError("vulkan: shader " + std::string(shader) + ": texel binding " + std::to_string(i) + " has no buffer");
      VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
      vi.buffer = t.buffer;
      const bool vec4 = vec4_mask >> i & 1;
      vi.format = vec4 ? VK_FORMAT_R32G32B32A32_SFLOAT : VK_FORMAT_R32_SFLOAT;
      vi.offset = t.offset;  // a multiple of kSliceAlign (256), the most minTexelBufferOffsetAlignment may be
      vi.range = vec4 ? std::max<VkDeviceSize>(t.bytes, 16) : (std::max<VkDeviceSize>(t.bytes, 4) + 3) / 4 * 4;
      check(vkCreateBufferView(ctx_.device(), &vi, nullptr, &views[i]), "vkCreateBufferView");
      views_.push_back(views[i]);
      writes[n_writes++] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, nullptr, sets[1], i, 0, 1, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                            nullptr, nullptr, &views[i]};
    }
  }
  vkUpdateDescriptorSets(ctx_.device(), n_writes, writes, 0, nullptr);
  std::vector<Access> accesses;  // unbound slots (the dummy) are never accessed
  for (uint32_t i = 0; i < bindings.size(); ++i) accesses.push_back(access(bindings[i], written >> i & 1));
  for (const Slice& t : texels) accesses.push_back(access(t, false));
  before(accesses);
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipes_.layout(), 0, texels.empty() ? 1 : 2, sets, 0, nullptr);
  if (push_bytes) vkCmdPushConstants(cmd_, pipes_.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
  vkCmdDispatch(cmd_, gx, gy, gz);
  ++counters().dispatches;
  after();
}

void CommandRecorder::copy(const Slice& src, const Slice& dst) {
  const VkBufferCopy region{src.offset, dst.offset, std::min(src.bytes, dst.bytes)};
  before({access({src.buffer, src.offset, region.size}, false), access({dst.buffer, dst.offset, region.size}, true)});
  vkCmdCopyBuffer(cmd_, src.buffer, dst.buffer, 1, &region);
  after();
}

void CommandRecorder::fill(const Slice& s, uint32_t value) {
  before({access({s.buffer, s.offset, (s.bytes + 3) / 4 * 4}, true)});
  vkCmdFillBuffer(cmd_, s.buffer, s.offset, (s.bytes + 3) / 4 * 4, value);
  after();
}

OneTimeCommands::OneTimeCommands(Context& ctx, VkCommandPool pool) : ctx_(ctx), pool_(pool) {
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  check(vkAllocateCommandBuffers(ctx_.device(), &ai, &cmd_), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
}

OneTimeCommands::~OneTimeCommands() { vkFreeCommandBuffers(ctx_.device(), pool_, 1, &cmd_); }

void OneTimeCommands::submit(const char* what) {
  check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd_;
  check(vkQueueSubmit(ctx_.queue(), 1, &si, VK_NULL_HANDLE), (std::string("vkQueueSubmit (") + what + ")").c_str());
  check(vkQueueWaitIdle(ctx_.queue()), (std::string("vkQueueWaitIdle (") + what + ")").c_str());
}

}  // namespace gg::vk
