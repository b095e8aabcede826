// Recording into command buffers: the kernels' Recorder (dispatches, fills,
// copies, with a barrier before each one that conflicts with an earlier one:
// hazards.h), the memory barriers the executable and
// the transfers place between the device's and the host's accesses, and a
// one-time command buffer submitted and waited for (variable transfers).
#pragma once
#include <vector>

#include "context.h"
#include "hazards.h"
#include "kernels.h"
#include "pipelines.h"

namespace gg::vk {

void barrier(VkCommandBuffer cmd, VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst,
             VkAccessFlags dst_access);
// Everything the device wrote before (shaders, copies, fills) -> everything it
// does next; also orders this submission after earlier ones' reads (WAR).
void barrier_device_all(VkCommandBuffer cmd);
// The device's writes (shaders, copies) -> the host's reads after a fence wait.
void barrier_to_host(VkCommandBuffer cmd);

// Records dispatches into one command buffer, each with its own descriptor set.
class CommandRecorder final : public Recorder {
 public:
  // The texel buffers' views are appended to `views`; they must outlive the command buffer.
  CommandRecorder(Context& ctx, Pipelines& pipes, VkCommandBuffer cmd, VkDescriptorPool pool, Slice dummy,
                  std::vector<VkBufferView>& views)
      : ctx_(ctx), pipes_(pipes), cmd_(cmd), pool_(pool), dummy_(dummy), views_(views) {}

  void dispatch(std::string_view shader, std::span<const Slice> bindings, const void* push, uint32_t push_bytes,
                uint32_t gx, uint32_t gy, uint32_t gz) override;
  void dispatch_texels(std::string_view shader, std::span<const Slice> bindings, std::span<const Slice> texels,
                       const void* push, uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz, uint32_t vec4_mask) override;
  void copy(const Slice& src, const Slice& dst) override;
  void fill(const Slice& s, uint32_t value) override;
  uint32_t max_groups(int axis) const override { return ctx_.max_groups(axis); }
  bool gpu() const override { return ctx_.info().type != "cpu"; }
  // A step with host work is recorded into several command buffers.
  void set_command_buffer(VkCommandBuffer cmd) { cmd_ = cmd; }
  // A barrier from everything recorded so far to everything after it (the
  // start of a command buffer that follows host work).
  void full_barrier();

 private:
  Context& ctx_;
  Pipelines& pipes_;
  VkCommandBuffer cmd_;
  VkDescriptorPool pool_;
  Slice dummy_;
  std::vector<VkBufferView>& views_;
  HazardTracker hazards_;

  // Places the barrier a command with these accesses needs (BarrierMode).
  void before(const std::vector<Access>& accesses);
  void after();
  VkDescriptorSet allocate(VkDescriptorSetLayout layout);
  void record(std::string_view shader, std::span<const Slice> bindings, std::span<const Slice> texels, uint32_t vec4_mask,
              const void* push, uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz);
};

// A primary command buffer from `pool`, begun for one submission; submit()
// ends it, runs it and waits for the queue; the destructor frees it.
class OneTimeCommands {
 public:
  OneTimeCommands(Context& ctx, VkCommandPool pool);
  ~OneTimeCommands();
  OneTimeCommands(const OneTimeCommands&) = delete;
  OneTimeCommands& operator=(const OneTimeCommands&) = delete;
  VkCommandBuffer cmd() const { return cmd_; }
  void submit(const char* what);

 private:
  Context& ctx_;
  VkCommandPool pool_;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
};

}  // namespace gg::vk
