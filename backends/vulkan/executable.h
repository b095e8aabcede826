// A compiled schedule on the Vulkan backend: the activation arena (planned by
// liveness), the fed batch, status words and read-back in buffers of its own,
// one recording per batch size (executable_record.cpp), and run(): upload the
// batch, submit, run the host steps (all-reduce) between command buffers,
// check the status words.
//
// Host <-> device traffic, by buffer:
//   feeds_     device-local; the host writes it in place where it can map it,
//              else into feed_staging_, copied over at the start of the step.
//   status_    device-local: zeroed by the step's first commands, written by
//              kernels that reject their input.
//   readback_  host-visible: the targets and the status words are copied
//              there at the end of the step, the host invalidates and reads.
//   host_      host-visible: the host steps' outputs (all-reduce buckets); the
//              device gathers into it, the host invalidates, works, flushes
//              what the device reads back.
#pragma once
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <graphgrad/backends/fusion.h>

#include "kernels.h"
#include "memory.h"
#include "variables.h"

namespace gg::vk {

class VulkanExecutable final : public Executable {
 public:
  VulkanExecutable(VulkanBackend& backend, std::vector<NodeId> targets, int64_t max_batch);
  ~VulkanExecutable() override;
  void run(std::span<const Feed> feeds) override;
  void fetch(NodeId target, std::span<float> out) const override;
  int64_t batch() const override { return batch_; }
  const std::vector<NodeId>& inputs() const override { return placeholders_; }

 private:
  struct Step {
    const Node* node;
    const KernelEntry* kernel;
    bool relu_epilogue = false;  // a conv2d that applies the relu reading it (fusion.h)
    bool skip = false;           // that relu, on the conv's bytes: nothing to record
  };
  // A step's command buffers: cmds[i] runs, then the host step host_after[i]
  // (one fewer than cmds: the last buffer ends the step).
  struct Recorded {
    std::vector<VkCommandBuffer> cmds;
    std::vector<size_t> host_after;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    std::vector<VkBufferView> views;  // the texel buffers' views (Recorder::dispatch_texels)
  };
  void allocate(const std::vector<NodeId>& order, VkDeviceSize feeds, VkDeviceSize scratch, std::vector<StepFusion>& fusion);
  void upload_feeds(int64_t batch);
  void run_host_step(size_t k);
  void accumulate_profile();
  Recorded& recorded(int64_t batch);                                    // executable_record.cpp
  void record(Recorded& r, int64_t batch);                              // executable_record.cpp
  void record_prologue(VkCommandBuffer cmd, int64_t batch);             // executable_record.cpp
  void record_epilogue(VkCommandBuffer cmd, const std::vector<Slice>& slot, int64_t batch);

  VulkanBackend& backend_;
  Context& ctx_;
  const Graph& g_;
  std::vector<NodeId> targets_;
  std::vector<NodeId> placeholders_;
  std::vector<const Feed*> bound_;
  std::vector<Step> steps_;
  std::vector<Slice> slot_;                      // per node id
  std::vector<VkDeviceSize> feed_offset_;        // per placeholder, in feeds_
  std::unordered_map<NodeId, VkDeviceSize> readback_offset_;
  VkDeviceSize status_offset_ = 0;               // the status words' copy in readback_
  Buffer arena_, scratch_, feeds_, feed_staging_, status_, readback_;
  Buffer host_;  // host steps' outputs (all-reduce buckets), host-visible
  std::unordered_map<NodeId, VkDeviceSize> host_offset_;
  std::unordered_set<NodeId> device_reads_;      // host steps whose output the device reads (flushed after)
  std::map<int64_t, Recorded> recorded_;
  VkFence fence_ = VK_NULL_HANDLE;
  int64_t max_batch_;
  int64_t batch_ = 0;
  bool ran_ = false;
  // GRAPHGRAD_PROFILE=1: a timestamp after each step's dispatches; per-node
  // device time printed to stderr when the executable goes away.
  VkQueryPool queries_ = VK_NULL_HANDLE;
  std::vector<double> profile_ms_;
  int64_t profile_runs_ = 0;
  bool profile_warm_ = false;  // the first run (shader compilation) is not profiled
};

}  // namespace gg::vk
