#include "executable.h"

#include <algorithm>
#include <cstring>

#include <graphgrad/backends/executable_util.h>
#include <graphgrad/backends/feeds.h>
#include <graphgrad/backends/fusion.h>
#include <graphgrad/backends/memory_plan.h>
#include <graphgrad/graph/op.h>

#include "counters.h"

namespace gg::vk {

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
        feeds += aligned(value_bytes(n, max_batch), host_align(ctx_));
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
  // The values seen outside the run: never fused away.
  const std::vector<bool> observed = target_values(g_, targets_, [](const Node& n) {
    const KernelEntry* k = n.op->role() == OpRole::compute ? find_kernel(n.op->id()) : nullptr;
    return k && !k->record && !k->host ? n.inputs[0] : kNoNode;  // reshape-like: its input's bytes
  });
  std::vector<const Node*> nodes;
  for (const Step& s : steps_) nodes.push_back(s.node);
  std::vector<StepFusion> fusion = fuse_conv_relu(g_, nodes, observed);
  allocate(order, feeds, scratch, fusion);
  for (Step& s : steps_) {
    s.relu_epilogue = fusion[static_cast<size_t>(s.node->id)].relu_epilogue;
    s.skip = fusion[static_cast<size_t>(s.node->id)].skip;
  }
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

// The buffers, and every node's slot in them; marks the fused relus the plan
// put on their conv's bytes.
void VulkanExecutable::allocate(const std::vector<NodeId>& order, VkDeviceSize feeds, VkDeviceSize scratch,
                                std::vector<StepFusion>& fusion) {
  auto is_host = [&](const Node& n) { return n.op->role() == OpRole::compute && find_kernel(n.op->id())->host; };
  auto is_alias = [&](const Node& n) {
    return n.op->role() == OpRole::compute && !find_kernel(n.op->id())->record && !is_host(n);
  };
  // Host steps' outputs: host-visible, each its own range (a wait shares its
  // start's), never two in one non-coherent atom: the host sums one bucket
  // while the device gathers the next.
  const VkDeviceSize halign = host_align(ctx_);
  VkDeviceSize host_bytes = 0;
  std::unordered_map<NodeId, NodeId> in_host;  // node -> the host step whose range holds its value (aliases too)
  for (const Step& st : steps_) {
    const Node& n = *st.node;
    if (!st.kernel->host) {
      if (is_alias(n) && in_host.count(n.inputs[0])) in_host[n.id] = in_host[n.inputs[0]];
      else
        for (NodeId in : n.inputs)
          if (in_host.count(in)) device_reads_.insert(in_host[in]);
      continue;
    }
    in_host[n.id] = n.id;
    if (!st.kernel->gather_from && !n.inputs.empty() && host_offset_.count(n.inputs[0])) {
      host_offset_[n.id] = host_offset_[n.inputs[0]];
      continue;
    }
    host_offset_[n.id] = host_bytes;
    host_bytes += aligned(value_bytes(n, max_batch_), halign);
  }
  for (NodeId t : targets_)  // copied to readback_ by the device
    if (in_host.count(t)) device_reads_.insert(in_host[t]);
  MemoryPlan plan = plan_memory(
      g_, order, targets_,
      [&](const Node& n) -> int64_t {
        return n.op->role() == OpRole::compute && !is_alias(n) && !is_host(n) ? int64_t(value_bytes(n, max_batch_)) : 0;
      },
      [&](const Node& n) { return is_alias(n) ? n.inputs[0] : kNoNode; }, static_cast<int64_t>(kSliceAlign),
      // A fused relu may take its conv's bytes: it then need not run at all.
      [&](const Node& n) { return fusion[static_cast<size_t>(n.id)].fused_relu; });
  skip_fused_relus(g_, fusion, plan.offset);

  arena_ = Buffer(ctx_, static_cast<VkDeviceSize>(plan.total_bytes), Buffer::Where::device, "activation arena");
  scratch_ = Buffer(ctx_, scratch, Buffer::Where::device, "kernel scratch");
  feeds_ = Buffer(ctx_, feeds, Buffer::Where::device, "input batch");
  if (!feeds_.mapped()) feed_staging_ = Buffer(ctx_, feeds, Buffer::Where::host, "input batch staging");
  status_ = Buffer(ctx_, aligned(4) * std::max<size_t>(1, steps_.size()), Buffer::Where::device, "status words");
  VkDeviceSize readback = 0;
  for (NodeId t : targets_) {
    readback_offset_[t] = readback;
    readback += aligned(value_bytes(g_.node(t), max_batch_), halign);
  }
  status_offset_ = readback;
  readback_ = Buffer(ctx_, readback + status_.bytes(), Buffer::Where::host, "readback");
  for (size_t i = 0; i < placeholders_.size(); ++i)
    slot_[static_cast<size_t>(placeholders_[i])] = {feeds_.handle(), feed_offset_[i], value_bytes(g_.node(placeholders_[i]), max_batch_)};
  if (host_bytes) host_ = Buffer(ctx_, host_bytes, Buffer::Where::host, "all-reduce buckets");
  for (const Step& s : steps_)
    if (s.kernel->record)
      slot_[static_cast<size_t>(s.node->id)] = {arena_.handle(), static_cast<VkDeviceSize>(plan.offset[static_cast<size_t>(s.node->id)]),
                                                value_bytes(*s.node, max_batch_)};
    else if (s.kernel->host)
      slot_[static_cast<size_t>(s.node->id)] = {host_.handle(), host_offset_[s.node->id], value_bytes(*s.node, max_batch_)};
}

void VulkanExecutable::accumulate_profile() {
  std::vector<uint64_t> t(steps_.size() + 1);
  if (vkGetQueryPoolResults(ctx_.device(), queries_, 0, static_cast<uint32_t>(t.size()), t.size() * 8, t.data(), 8,
                            VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) != VK_SUCCESS)
    return;
  // The first run also builds the shaders (lavapipe compiles a pipeline's code on its first dispatch).
  if (!profile_warm_) {
    profile_warm_ = true;
    return;
  }
  const double ns = ctx_.limits().timestampPeriod;
  for (size_t k = 0; k < steps_.size(); ++k) profile_ms_[k] += double(t[k + 1] - t[k]) * ns * 1e-6;
  ++profile_runs_;
}

VulkanExecutable::~VulkanExecutable() {
  vkDeviceWaitIdle(ctx_.device());
  if (queries_) {
    std::vector<const Node*> nodes;
    for (const Step& s : steps_) nodes.push_back(s.node);
    print_profile("vulkan profile (" + ctx_.info().name + "; the first run, which compiles the shaders, not counted)", nodes, profile_ms_, profile_runs_);
    vkDestroyQueryPool(ctx_.device(), queries_, nullptr);
  }
  for (auto& [b, r] : recorded_) {
    vkFreeCommandBuffers(ctx_.device(), backend_.command_pool(), static_cast<uint32_t>(r.cmds.size()), r.cmds.data());
    vkDestroyDescriptorPool(ctx_.device(), r.pool, nullptr);
    for (VkBufferView v : r.views) vkDestroyBufferView(ctx_.device(), v, nullptr);
  }
  vkDestroyFence(ctx_.device(), fence_, nullptr);
}

// The batch goes where the host can write it: feeds_ itself on unified
// memory, else its staging twin, copied over by the step's first commands.
void VulkanExecutable::upload_feeds(int64_t batch) {
  Buffer& to = feeds_.mapped() ? feeds_ : feed_staging_;
  for (size_t i = 0; i < placeholders_.size(); ++i) {
    const VkDeviceSize bytes = value_bytes(g_.node(placeholders_[i]), batch);
    std::memcpy(static_cast<char*>(to.mapped()) + feed_offset_[i], bound_[i]->data, bytes);
    to.flush(feed_offset_[i], bytes);
  }
  if (placeholders_.empty()) return;
  if (feeds_.mapped()) ++counters().direct_transfers;
  else ++counters().staging_copies;
}

void VulkanExecutable::run(std::span<const Feed> feeds) {
  const int64_t batch = bind_feeds(g_, placeholders_, feeds, max_batch_, "vulkan", bound_);
  upload_feeds(batch);
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
  readback_.invalidate(0, readback_.bytes());
  ran_ = true;
  const auto* status = static_cast<const char*>(readback_.mapped()) + status_offset_;
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
  const KernelEntry& e = *steps_[k].kernel;
  const VkDeviceSize at = host_offset_.at(n.id), bytes = value_bytes(n, batch_);
  if (e.gather_from) host_.invalidate(at, bytes);  // the device gathered the inputs there
  HostArgs a;
  a.graph = &g_;
  a.node = &n;
  a.batch = batch_;
  a.comm = &backend_.comm();
  a.out = reinterpret_cast<float*>(static_cast<char*>(host_.mapped()) + at);
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const NodeId in = n.inputs[i];
    if (auto h = host_offset_.find(in); h != host_offset_.end()) a.in[i] = static_cast<const char*>(host_.mapped()) + h->second;
    for (size_t p = 0; p < placeholders_.size(); ++p)
      if (placeholders_[p] == in) a.in[i] = bound_[p]->data;  // the host's own copy of the batch
  }
  e.host(a);
  if (device_reads_.count(n.id)) host_.flush(at, bytes);
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

}  // namespace gg::vk
