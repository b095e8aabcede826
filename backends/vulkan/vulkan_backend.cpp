#include "vulkan_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include <graphgrad/backends/executable_util.h>
#include <graphgrad/backends/kernel_registry.h>
#include <graphgrad/backends/feeds.h>
#include <graphgrad/backends/memory_plan.h>
#include <graphgrad/graph/op.h>

#include "context.h"
#include "kernels.h"
#include "memory.h"
#include "pipelines.h"

namespace gg::vk {
namespace {

VkDeviceSize aligned(VkDeviceSize n) { return (n + kSliceAlign - 1) / kSliceAlign * kSliceAlign; }
VkDeviceSize value_bytes(const Node& n, int64_t batch) { return static_cast<VkDeviceSize>(n.shape.numel(batch)) * 4; }

void barrier(VkCommandBuffer cmd, VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst,
             VkAccessFlags dst_access) {
  VkMemoryBarrier b{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, src_access, dst_access};
  vkCmdPipelineBarrier(cmd, src, dst, 0, 1, &b, 0, nullptr, 0, nullptr);
}

class VulkanBackend;

// Records dispatches into one command buffer, each with its own descriptor set.
class CommandRecorder final : public Recorder {
 public:
  CommandRecorder(Context& ctx, Pipelines& pipes, VkCommandBuffer cmd, VkDescriptorPool pool, Slice dummy)
      : ctx_(ctx), pipes_(pipes), cmd_(cmd), pool_(pool), dummy_(dummy) {}

  void dispatch(std::string_view shader, std::span<const Slice> bindings, const void* push, uint32_t push_bytes,
                uint32_t gx, uint32_t gy, uint32_t gz) override {
    if (bindings.size() > kBindings) throw BackendError("vulkan: shader " + std::string(shader) + " binds too many buffers");
    VkDescriptorSetLayout layout = pipes_.set_layout();
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = pool_;
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    check(vkAllocateDescriptorSets(ctx_.device(), &ai, &set), "vkAllocateDescriptorSets");
    VkDescriptorBufferInfo infos[kBindings];
    VkWriteDescriptorSet writes[kBindings];
    for (uint32_t i = 0; i < kBindings; ++i) {
      const Slice& s = i < bindings.size() ? bindings[i] : dummy_;  // unused bindings still get a valid buffer
      if (s.buffer == VK_NULL_HANDLE) throw BackendError("vulkan: shader " + std::string(shader) + ": binding " + std::to_string(i) + " has no buffer");
      infos[i] = {s.buffer, s.offset, std::max<VkDeviceSize>(s.bytes, 4)};
      writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, nullptr, set, i, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, nullptr, &infos[i], nullptr};
    }
    vkUpdateDescriptorSets(ctx_.device(), kBindings, writes, 0, nullptr);
    vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipes_.get(shader));
    vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipes_.layout(), 0, 1, &set, 0, nullptr);
    if (push_bytes) vkCmdPushConstants(cmd_, pipes_.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
    vkCmdDispatch(cmd_, gx, gy, gz);
    barrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  }

  void copy(const Slice& src, const Slice& dst) override {
    const VkBufferCopy region{src.offset, dst.offset, std::min(src.bytes, dst.bytes)};
    vkCmdCopyBuffer(cmd_, src.buffer, dst.buffer, 1, &region);
    barrier(cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT);
  }
  // A step with host work is recorded into several command buffers.
  void set_command_buffer(VkCommandBuffer cmd) { cmd_ = cmd; }

  void fill(const Slice& s, uint32_t value) override {
    vkCmdFillBuffer(cmd_, s.buffer, s.offset, (s.bytes + 3) / 4 * 4, value);
    barrier(cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  }

  uint32_t max_groups(int axis) const override { return ctx_.limits().maxComputeWorkGroupCount[axis]; }
  bool gpu() const override { return ctx_.info().type != "cpu"; }

 private:
  Context& ctx_;
  Pipelines& pipes_;
  VkCommandBuffer cmd_;
  VkDescriptorPool pool_;
  Slice dummy_;
};

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
  };
  // A step's command buffers: cmds[i] runs, then the host step host_after[i]
  // (one fewer than cmds: the last buffer ends the step).
  struct Recorded {
    std::vector<VkCommandBuffer> cmds;
    std::vector<size_t> host_after;
    VkDescriptorPool pool = VK_NULL_HANDLE;
  };
  void run_host_step(size_t k);
  void accumulate_profile();
  Recorded& recorded(int64_t batch);

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
  Buffer arena_, scratch_, feeds_, status_, readback_;
  Buffer host_;  // host steps' outputs (all-reduce buckets), host-visible
  std::unordered_map<NodeId, VkDeviceSize> host_offset_;
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
};

class VulkanBackend final : public Backend {
 public:
  VulkanBackend(const Graph& graph, const BackendOptions& opt)
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
    for (const auto& [id, off] : var_offset_) {
      const auto& v = graph_.initial_value(id);
      write_variable(id, v);
    }
  }
  ~VulkanBackend() override {
    vkDeviceWaitIdle(ctx_.device());
    vkDestroyCommandPool(ctx_.device(), pool_, nullptr);
  }

  std::string name() const override { return "vulkan"; }
  const Graph& graph() const override { return graph_; }
  std::unique_ptr<Executable> compile(const std::vector<NodeId>& targets, int64_t max_batch) override {
    return std::make_unique<VulkanExecutable>(*this, targets, max_batch);
  }
  void read_variable(NodeId node, std::span<float> out) const override {
    const Slice s = variable(node);
    check_size(node, out.size(), s.bytes / 4);
    const_cast<VulkanBackend*>(this)->transfer(s, out.data(), false);
  }
  void write_variable(NodeId node, std::span<const float> values) override {
    const Slice s = variable(node);
    check_size(node, values.size(), s.bytes / 4);
    transfer(s, const_cast<float*>(values.data()), true);
  }

  Context& context() { return ctx_; }
  Communicator& comm() { return *comm_; }
  Pipelines& pipelines() { return pipes_; }
  VkCommandPool command_pool() const { return pool_; }
  Slice variable(NodeId id) const {
    auto it = var_offset_.find(id);
    if (it == var_offset_.end()) throw BackendError("vulkan: " + graph_.describe(id) + " is not a variable of this backend");
    return {vars_.handle(), it->second, value_bytes(graph_.node(id), 1)};
  }

 private:
  void check_size(NodeId id, size_t got, size_t want) const {
    if (got != want)
      throw BackendError("vulkan: " + graph_.describe(id) + " holds " + std::to_string(want) + " values, not " + std::to_string(got));
  }
  // Host <-> variable copies: direct when the buffer is mapped, else through a staging buffer.
  void transfer(const Slice& s, float* host, bool upload) {
    if (vars_.mapped()) {
      char* p = static_cast<char*>(vars_.mapped()) + s.offset;
      upload ? std::memcpy(p, host, s.bytes) : std::memcpy(host, p, s.bytes);
      return;
    }
    Buffer staging(ctx_, s.bytes, Buffer::Where::host, "staging buffer");
    if (upload) std::memcpy(staging.mapped(), host, s.bytes);
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cmd;
    check(vkAllocateCommandBuffers(ctx_.device(), &ai, &cmd), "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vkBeginCommandBuffer(cmd, &bi);
    VkBufferCopy region{upload ? 0 : s.offset, upload ? s.offset : 0, s.bytes};
    if (upload) vkCmdCopyBuffer(cmd, staging.handle(), vars_.handle(), 1, &region);
    else vkCmdCopyBuffer(cmd, vars_.handle(), staging.handle(), 1, &region);
    vkEndCommandBuffer(cmd);
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    check(vkQueueSubmit(ctx_.queue(), 1, &si, VK_NULL_HANDLE), "vkQueueSubmit (variable copy)");
    check(vkQueueWaitIdle(ctx_.queue()), "vkQueueWaitIdle (variable copy)");
    vkFreeCommandBuffers(ctx_.device(), pool_, 1, &cmd);
    if (!upload) std::memcpy(host, staging.mapped(), s.bytes);
  }

  Graph graph_;
  Context ctx_;
  Pipelines pipes_;
  std::shared_ptr<Communicator> comm_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  std::map<NodeId, VkDeviceSize> var_offset_;
  Buffer vars_;
};

VulkanExecutable::VulkanExecutable(VulkanBackend& backend, std::vector<NodeId> targets, int64_t max_batch)
    : backend_(backend), ctx_(backend.context()), g_(backend.graph()), targets_(std::move(targets)), max_batch_(max_batch) {
  if (max_batch < 1) throw BackendError("vulkan: compile needs max_batch >= 1, got " + std::to_string(max_batch));
  slot_.assign(static_cast<size_t>(g_.size()), Slice{});
  const std::vector<NodeId> order = g_.schedule(targets_);
  VkDeviceSize scratch = 0, feeds = 0;
  for (NodeId id : order) {
    const Node& n = g_.node(id);
    switch (n.op->role()) {
      case OpRole::input:
        placeholders_.push_back(id);
        feed_offset_.push_back(feeds);
        feeds += aligned(value_bytes(n, max_batch));
        continue;
      case OpRole::parameter:
      case OpRole::state:
      case OpRole::constant: slot_[static_cast<size_t>(id)] = backend.variable(id); continue;
      case OpRole::compute: break;
    }
    const KernelEntry* k = find_kernel(n.op->id());
    if (!k) throw BackendError("vulkan: no kernel for op '" + std::string(n.op->name()) + "' (node " + g_.describe(id) + ")");
    if (n.inputs.size() > static_cast<size_t>(kMaxInputs)) throw BackendError("vulkan: " + g_.describe(id) + " has too many inputs");
    if (k->scratch) scratch = std::max<VkDeviceSize>(scratch, k->scratch(g_, n, max_batch));
    steps_.push_back({&n, k});
  }
  auto is_host = [&](const Node& n) { return n.op->role() == OpRole::compute && find_kernel(n.op->id())->host; };
  auto is_alias = [&](const Node& n) {
    return n.op->role() == OpRole::compute && !find_kernel(n.op->id())->record && !is_host(n);
  };
  // Host steps' outputs: host-visible, each its own range (a wait shares its start's).
  VkDeviceSize host_bytes = 0;
  for (const Step& st : steps_) {
    if (!st.kernel->host) continue;
    const Node& n = *st.node;
    if (!st.kernel->gather_from && !n.inputs.empty() && host_offset_.count(n.inputs[0])) {
      host_offset_[n.id] = host_offset_[n.inputs[0]];
      continue;
    }
    host_offset_[n.id] = host_bytes;
    host_bytes += aligned(value_bytes(n, max_batch));
  }
  MemoryPlan plan = plan_memory(
      g_, order, targets_,
      [&](const Node& n) -> int64_t {
        return n.op->role() == OpRole::compute && !is_alias(n) && !is_host(n) ? int64_t(value_bytes(n, max_batch)) : 0;
      },
      [&](const Node& n) { return is_alias(n) ? n.inputs[0] : kNoNode; }, static_cast<int64_t>(kSliceAlign));

  arena_ = Buffer(ctx_, static_cast<VkDeviceSize>(plan.total_bytes), Buffer::Where::device, "activation arena");
  scratch_ = Buffer(ctx_, scratch, Buffer::Where::device, "kernel scratch");
  feeds_ = Buffer(ctx_, feeds, Buffer::Where::host, "input batch");
  status_ = Buffer(ctx_, aligned(4) * std::max<size_t>(1, steps_.size()), Buffer::Where::host, "status words");
  VkDeviceSize readback = 0;
  for (NodeId t : targets_) {
    readback_offset_[t] = readback;
    readback += aligned(value_bytes(g_.node(t), max_batch));
  }
  readback_ = Buffer(ctx_, readback, Buffer::Where::host, "readback");
  for (size_t i = 0; i < placeholders_.size(); ++i)
    slot_[static_cast<size_t>(placeholders_[i])] = {feeds_.handle(), feed_offset_[i], value_bytes(g_.node(placeholders_[i]), max_batch)};
  if (host_bytes) host_ = Buffer(ctx_, host_bytes, Buffer::Where::host, "all-reduce buckets");
  for (const Step& s : steps_)
    if (s.kernel->record)
      slot_[static_cast<size_t>(s.node->id)] = {arena_.handle(), static_cast<VkDeviceSize>(plan.offset[static_cast<size_t>(s.node->id)]),
                                                value_bytes(*s.node, max_batch)};
    else if (s.kernel->host)
      slot_[static_cast<size_t>(s.node->id)] = {host_.handle(), host_offset_[s.node->id], value_bytes(*s.node, max_batch)};
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(ctx_.device(), &fi, nullptr, &fence_), "vkCreateFence");
  if (profiling_requested() && ctx_.limits().timestampComputeAndGraphics) {
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = static_cast<uint32_t>(steps_.size() + 1);
    check(vkCreateQueryPool(ctx_.device(), &qi, nullptr, &queries_), "vkCreateQueryPool");
    profile_ms_.assign(steps_.size(), 0.0);
  }
}

void VulkanExecutable::accumulate_profile() {
  std::vector<uint64_t> t(steps_.size() + 1);
  if (vkGetQueryPoolResults(ctx_.device(), queries_, 0, static_cast<uint32_t>(t.size()), t.size() * 8, t.data(), 8,
                            VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) != VK_SUCCESS)
    return;
  const double ns = ctx_.limits().timestampPeriod;
  for (size_t k = 0; k < steps_.size(); ++k) profile_ms_[k] += double(t[k + 1] - t[k]) * ns * 1e-6;
  ++profile_runs_;
}

VulkanExecutable::~VulkanExecutable() {
  vkDeviceWaitIdle(ctx_.device());
  if (queries_) {
    std::vector<const Node*> nodes;
    for (const Step& s : steps_) nodes.push_back(s.node);
    print_profile("vulkan profile (" + ctx_.info().name + ")", nodes, profile_ms_, profile_runs_);
    vkDestroyQueryPool(ctx_.device(), queries_, nullptr);
  }
  for (auto& [b, r] : recorded_) {
    vkFreeCommandBuffers(ctx_.device(), backend_.command_pool(), static_cast<uint32_t>(r.cmds.size()), r.cmds.data());
    vkDestroyDescriptorPool(ctx_.device(), r.pool, nullptr);
  }
  vkDestroyFence(ctx_.device(), fence_, nullptr);
}

VulkanExecutable::Recorded& VulkanExecutable::recorded(int64_t batch) {
  if (auto it = recorded_.find(batch); it != recorded_.end()) return it->second;
  Recorded r;
  const uint32_t sets = static_cast<uint32_t>(steps_.size() * 8 + 8);  // kernels record at most a few dispatches each
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, sets * kBindings};
  VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pi.maxSets = sets;
  pi.poolSizeCount = 1;
  pi.pPoolSizes = &size;
  check(vkCreateDescriptorPool(ctx_.device(), &pi, nullptr, &r.pool), "vkCreateDescriptorPool");
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
  CommandRecorder rec(ctx_, backend_.pipelines(), cmd, r.pool, dummy);
  KernelArgs a;
  a.graph = &g_;
  a.batch = batch;
  a.rec = &rec;
  a.scratch = {scratch_.handle(), 0, scratch_.bytes()};
  std::vector<Slice> slot = slot_;  // aliases resolved per recording
  if (queries_) {
    vkCmdResetQueryPool(cmd, queries_, 0, static_cast<uint32_t>(steps_.size() + 1));
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, 0);
  }
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
      barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
              VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
      check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
      r.host_after.push_back(k);
      // The host's part runs between the two buffers; the next one starts after it.
      cmd = begin();
      rec.set_command_buffer(cmd);
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
    if (!steps_[k].kernel->record) {
      slot[static_cast<size_t>(n.id)] = slot[static_cast<size_t>(n.inputs[0])];
      continue;
    }
    a.node = &n;
    for (size_t i = 0; i < n.inputs.size(); ++i) a.in[i] = slot[static_cast<size_t>(n.inputs[i])];
    a.out = slot[static_cast<size_t>(n.id)];
    a.status = {status_.handle(), aligned(4) * k, 4};
    steps_[k].kernel->record(a);
  }
  // The targets go to host-visible memory for fetch().
  barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
  for (NodeId t : targets_) {
    const Slice& s = slot[static_cast<size_t>(t)];
    const VkDeviceSize bytes = value_bytes(g_.node(t), batch);
    if (!bytes || s.buffer == VK_NULL_HANDLE) continue;
    VkBufferCopy region{s.offset, readback_offset_[t], bytes};
    vkCmdCopyBuffer(cmd, s.buffer, readback_.handle(), 1, &region);
  }
  barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
  return recorded_.emplace(batch, r).first->second;
}

void VulkanExecutable::run(std::span<const Feed> feeds) {
  const int64_t batch = bind_feeds(g_, placeholders_, feeds, max_batch_, "vulkan", bound_);
  for (size_t i = 0; i < placeholders_.size(); ++i)
    std::memcpy(static_cast<char*>(feeds_.mapped()) + feed_offset_[i], bound_[i]->data,
                value_bytes(g_.node(placeholders_[i]), batch));
  std::memset(status_.mapped(), 0, status_.bytes());
  Recorded& r = recorded(batch);
  batch_ = batch;
  for (size_t i = 0; i < r.cmds.size(); ++i) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &r.cmds[i];
    VkResult submitted = i == 0 ? injected_step_fault() : VK_SUCCESS;
    if (submitted == VK_SUCCESS) submitted = vkQueueSubmit(ctx_.queue(), 1, &si, fence_);
    check(submitted, "vkQueueSubmit");
    constexpr uint64_t kTimeoutNs = 600ull * 1000 * 1000 * 1000;  // a step that takes 10 minutes is a hung device
    const VkResult w = vkWaitForFences(ctx_.device(), 1, &fence_, VK_TRUE, kTimeoutNs);
    if (w == VK_TIMEOUT) throw BackendError("vulkan: the device did not finish a step within 10 minutes (hung?)");
    check(w, "vkWaitForFences (running a step)");
    vkResetFences(ctx_.device(), 1, &fence_);
    if (i < r.host_after.size()) run_host_step(r.host_after[i]);
  }
  if (queries_) accumulate_profile();
  ran_ = true;
  const auto* status = static_cast<const char*>(status_.mapped());
  for (size_t k = 0; k < steps_.size(); ++k) {
    uint32_t word;
    std::memcpy(&word, status + aligned(4) * k, 4);
    if (word)
      throw BackendError("vulkan: " + g_.describe(steps_[k].node->id) + ": " +
                         (steps_[k].kernel->status_error ? steps_[k].kernel->status_error : "the kernel reported bad input"));
  }
}

void VulkanExecutable::run_host_step(size_t k) {
  const Node& n = *steps_[k].node;
  HostArgs a;
  a.graph = &g_;
  a.node = &n;
  a.batch = batch_;
  a.comm = &backend_.comm();
  a.out = reinterpret_cast<float*>(static_cast<char*>(host_.mapped()) + host_offset_.at(n.id));
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const NodeId in = n.inputs[i];
    if (auto h = host_offset_.find(in); h != host_offset_.end()) a.in[i] = static_cast<const char*>(host_.mapped()) + h->second;
    for (size_t p = 0; p < placeholders_.size(); ++p)
      if (placeholders_[p] == in) a.in[i] = static_cast<const char*>(feeds_.mapped()) + feed_offset_[p];
  }
  steps_[k].kernel->host(a);
}

void VulkanExecutable::fetch(NodeId target, std::span<float> out) const {
  auto it = readback_offset_.find(target);
  if (it == readback_offset_.end()) throw BackendError("vulkan: " + g_.describe(target) + " is not a target of this executable");
  if (!ran_) throw BackendError("vulkan: " + g_.describe(target) + " has not been computed; call run() first");
  const Node& n = g_.node(target);
  const int64_t count = n.shape.numel(batch_);
  if (static_cast<int64_t>(out.size()) != count)
    throw BackendError("vulkan: fetching " + g_.describe(target) + " needs " + std::to_string(count) + " floats, got " + std::to_string(out.size()));
  copy_fetched(n.dtype, static_cast<const char*>(readback_.mapped()) + it->second, out);
}

}  // namespace

namespace {
KernelRegistry<KernelEntry>& registry() {
  static KernelRegistry<KernelEntry> r{conv_kernels(), dense_kernels(), pool_kernels(), avg_pool_kernels(), elementwise_kernels(),
                                       eltwise_def_kernels(), reduce_kernels(), shape_kernels(), softmax_kernels(), loss_kernels(), optimizer_kernels(),
                                       comm_kernels()};
  return r;
}
}  // namespace

const KernelEntry* find_kernel(OpId op) { return registry().find(op); }
std::vector<OpId> missing_kernels() { return registry().missing(); }
void add_kernel(const KernelEntry& e) { registry().add(e); }

std::unique_ptr<Backend> make_vulkan_backend(const Graph& graph, const BackendOptions& options) {
  return std::make_unique<VulkanBackend>(graph, options);
}

std::vector<std::string> device_descriptions(std::string* why) {
  std::vector<std::string> out;
  for (const DeviceInfo& d : list_devices(why)) out.push_back(describe(d));
  return out;
}

int validation_error_count() { return Context::validation_errors(); }

}  // namespace gg::vk
