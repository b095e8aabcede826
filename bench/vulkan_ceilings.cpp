#include "vulkan_ceilings.h"

#include <chrono>
#include <cstring>

#include <graphgrad/backends/backend.h>

#include "vulkan/context.h"
#include "vulkan/memory.h"
#include "vulkan/pipelines.h"
#include "vulkan/recorder.h"

namespace gg::bench::vulkan {

using gg::vk::Buffer;
using gg::vk::Slice;

class Device {
 public:
  explicit Device(const std::string& selector) : ctx(selector), pipes(ctx) {
    VkCommandPoolCreateInfo ci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    ci.queueFamilyIndex = ctx.queue_family();
    ci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    vk::check(vkCreateCommandPool(ctx.device(), &ci, nullptr, &pool), "vkCreateCommandPool");
    // The recorder binds every storage binding a shader leaves unused to this.
    dummy = Buffer(ctx, 256, Buffer::Where::device, "ceilings: unused bindings");
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(ctx.physical(), &n, nullptr);
    std::vector<VkQueueFamilyProperties> families(n);
    vkGetPhysicalDeviceQueueFamilyProperties(ctx.physical(), &n, families.data());
    timestamp_bits = families.at(ctx.queue_family()).timestampValidBits;
    if (!ctx.limits().timestampComputeAndGraphics) timestamp_bits = 0;
  }
  ~Device() {
    vkDeviceWaitIdle(ctx.device());
    dummy = Buffer();
    vkDestroyCommandPool(ctx.device(), pool, nullptr);
  }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  vk::Context ctx;
  vk::Pipelines pipes;
  VkCommandPool pool = VK_NULL_HANDLE;
  Buffer dummy;
  uint32_t timestamp_bits = 0;  // 0: no timestamps on the compute queue
};

std::shared_ptr<Device> open_device(const std::string& selector) { return std::make_shared<Device>(selector); }
std::string describe(const Device& d) { return vk::describe(d.ctx.info()); }
bool device_timer(const Device& d) { return d.timestamp_bits > 0; }

const char* ceiling_name(Ceiling c) {
  switch (c) {
    case Ceiling::fma: return "fma_peak";
    case Ceiling::texel_read: return "bandwidth/texel_read";
    case Ceiling::storage_read: return "bandwidth/storage_read";
    case Ceiling::copy: return "bandwidth/copy";
    case Ceiling::dispatch: return "dispatch_overhead";
    case Ceiling::submit: return "submit_wait";
  }
  return "?";
}

Size bench_size(Ceiling c) {
  switch (c) {
    // 4096 x 64 invocations (enough to fill a large GPU) x 2048 rounds: 17 GFLOP.
    case Ceiling::fma: return {.groups = 4096, .rounds = 2048, .steps = 1, .dispatches = 1};
    // 4096 x 64 invocations x 16 vec4s: 64 MiB, far past any CPU's caches.
    case Ceiling::texel_read:
    case Ceiling::storage_read:
    case Ceiling::copy: return {.groups = 4096, .rounds = 1, .steps = 16, .dispatches = 1};
    case Ceiling::dispatch: return {.groups = 1, .rounds = 1, .steps = 1, .dispatches = 1000};
    case Ceiling::submit: return {.groups = 1, .rounds = 1, .steps = 1, .dispatches = 1};
  }
  return {};
}

namespace {
constexpr uint32_t kLocal = 64;  // local_size_x of every ceiling shader
constexpr uint32_t kLoopLimit = 65535;  // lavapipe ends a shader loop after this many iterations

bool reads(Ceiling c) { return c == Ceiling::texel_read || c == Ceiling::storage_read || c == Ceiling::copy; }
VkDeviceSize input_bytes(Ceiling c, const Size& s) { return reads(c) ? VkDeviceSize{s.groups} * kLocal * s.steps * 16 : 0; }
VkDeviceSize output_bytes(Ceiling c, const Size& s) {
  if (c == Ceiling::copy) return input_bytes(c, s);
  return c == Ceiling::fma || reads(c) ? VkDeviceSize{s.groups} * kLocal * 16 : 0;
}

// A one-time command buffer that copies between a device buffer and a host one.
void transfer(Device& d, VkBuffer src, VkBuffer dst, VkDeviceSize bytes, bool to_host) {
  vk::OneTimeCommands cmd(d.ctx, d.pool);
  const VkBufferCopy region{0, 0, bytes};
  vkCmdCopyBuffer(cmd.cmd(), src, dst, 1, &region);
  if (to_host) vk::barrier_to_host(cmd.cmd());
  else vk::barrier_device_all(cmd.cmd());  // the copy's writes -> the next submission's shaders
  cmd.submit(to_host ? "ceilings: download" : "ceilings: upload");
}
}  // namespace

struct Run::State {
  Device& d;
  Buffer in, out;
  VkDescriptorPool descriptors = VK_NULL_HANDLE;
  std::vector<VkBufferView> views;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VkQueryPool queries = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;

  explicit State(Device& dev) : d(dev) {}
  ~State() {
    VkDevice dev = d.ctx.device();
    vkDeviceWaitIdle(dev);
    if (fence) vkDestroyFence(dev, fence, nullptr);
    if (queries) vkDestroyQueryPool(dev, queries, nullptr);
    if (cmd) vkFreeCommandBuffers(dev, d.pool, 1, &cmd);
    for (VkBufferView v : views) vkDestroyBufferView(dev, v, nullptr);
    if (descriptors) vkDestroyDescriptorPool(dev, descriptors, nullptr);
  }
};

Run::Run(std::shared_ptr<Device> device, Ceiling c, Size size)
    : device_(std::move(device)), ceiling_(c), size_(size), s_(std::make_unique<State>(*device_)) {
  if (size.groups < 1 || size.dispatches < 1 || size.rounds < 1 || size.steps < 1)
    throw BackendError(std::string("vulkan ceilings: ") + ceiling_name(c) + ": every size must be at least 1");
  if (size.rounds >= kLoopLimit || size.steps >= kLoopLimit)
    throw BackendError(std::string("vulkan ceilings: ") + ceiling_name(c) + ": rounds and steps must stay under 65,535 "
                       "(lavapipe ends longer shader loops)");
  if (size.groups > device_->ctx.max_groups(0))
    throw BackendError(std::string("vulkan ceilings: ") + ceiling_name(c) + ": " + std::to_string(size.groups) +
                       " workgroups exceed the device's maxComputeWorkGroupCount");
  vk::Context& ctx = device_->ctx;
  if (const VkDeviceSize in = input_bytes(c, size)) {
    // Read as vec4 texels: a larger input would silently run the storage-buffer variant instead.
    if (c != Ceiling::storage_read && in / 16 > ctx.max_texels())
      throw BackendError(std::string("vulkan ceilings: ") + ceiling_name(c) + ": " + std::to_string(in / 16) +
                         " vec4 texels exceed the device's maxTexelBufferElements");
    s_->in = Buffer(ctx, in, Buffer::Where::device, std::string("ceilings: ") + ceiling_name(c) + " input");
  }
  if (const VkDeviceSize out = output_bytes(c, size))
    s_->out = Buffer(ctx, out, Buffer::Where::device, std::string("ceilings: ") + ceiling_name(c) + " output");
  if (s_->in.handle()) {  // 1.0f everywhere: finite data to read, without a host copy of 64 MiB
    vk::OneTimeCommands cmd(ctx, device_->pool);
    vkCmdFillBuffer(cmd.cmd(), s_->in.handle(), 0, VK_WHOLE_SIZE, 0x3f800000u);
    vk::barrier_device_all(cmd.cmd());
    cmd.submit("ceilings: fill");
  }
  const uint32_t n = size.dispatches;
  const VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, n * vk::kBindings},
                                         {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, n * vk::kTexelBindings}};
  VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pi.maxSets = 2 * n;
  pi.poolSizeCount = 2;
  pi.pPoolSizes = sizes;
  vk::check(vkCreateDescriptorPool(ctx.device(), &pi, nullptr, &s_->descriptors), "vkCreateDescriptorPool");
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = device_->pool;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  vk::check(vkAllocateCommandBuffers(ctx.device(), &ai, &s_->cmd), "vkAllocateCommandBuffers");
  if (device_->timestamp_bits) {
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = 2;
    vk::check(vkCreateQueryPool(ctx.device(), &qi, nullptr, &s_->queries), "vkCreateQueryPool");
  }
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  vk::check(vkCreateFence(ctx.device(), &fi, nullptr, &s_->fence), "vkCreateFence");
  record();
}

Run::~Run() = default;

void Run::set_fma(float m, float c) {
  m_ = m, c_ = c;
  vk::check(vkResetCommandBuffer(s_->cmd, 0), "vkResetCommandBuffer");
  vkResetDescriptorPool(device_->ctx.device(), s_->descriptors, 0);
  for (VkBufferView v : s_->views) vkDestroyBufferView(device_->ctx.device(), v, nullptr);
  s_->views.clear();
  record();
}

// The dispatches, between two timestamps, recorded once: run() only submits.
void Run::record() {
  VkCommandBuffer cmd = s_->cmd;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  vk::check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
  if (s_->queries) {
    vkCmdResetQueryPool(cmd, s_->queries, 0, 2);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, s_->queries, 0);
  }
  const Slice dummy{device_->dummy.handle(), 0, device_->dummy.bytes()};
  vk::CommandRecorder recorder(device_->ctx, device_->pipes, cmd, s_->descriptors, dummy, s_->views);
  vk::Recorder& rec = recorder;  // the base's typed-push overloads (the derived class hides them)
  const Slice in{s_->in.handle(), 0, s_->in.bytes()}, out{s_->out.handle(), 0, s_->out.bytes()};
  struct FmaPush {
    float m, c;
    uint32_t rounds;
  };
  struct StepsPush {
    uint32_t steps;
  };
  const uint32_t g = size_.groups;
  for (uint32_t i = 0; i < size_.dispatches; ++i) {
    switch (ceiling_) {
      case Ceiling::fma: rec.dispatch("ceiling_fma", {out}, FmaPush{m_, c_, size_.rounds}, g); break;
      case Ceiling::texel_read: rec.dispatch_texels("ceiling_read", {out}, {in}, StepsPush{size_.steps}, g, 1, 1, 1); break;
      case Ceiling::storage_read: rec.dispatch("ceiling_read_ssbo", {out, in}, StepsPush{size_.steps}, g); break;
      case Ceiling::copy: rec.dispatch_texels("ceiling_copy", {out}, {in}, StepsPush{size_.steps}, g, 1, 1, 1); break;
      case Ceiling::dispatch:  // the recorder places no barrier between commands that touch nothing: one each here
        rec.dispatch("ceiling_empty", std::span<const Slice>{}, nullptr, 0, 1, 1, 1);
        recorder.full_barrier();
        break;
      case Ceiling::submit: rec.dispatch("ceiling_empty", std::span<const Slice>{}, nullptr, 0, 1, 1, 1); break;
    }
  }
  if (s_->queries) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, s_->queries, 1);
  vk::check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
}

double Run::run() {
  vk::Context& ctx = device_->ctx;
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &s_->cmd;
  const auto t0 = std::chrono::steady_clock::now();
  vk::check(vkQueueSubmit(ctx.queue(), 1, &si, s_->fence), "vkQueueSubmit (ceilings)");
  vk::check(vkWaitForFences(ctx.device(), 1, &s_->fence, VK_TRUE, UINT64_MAX), "vkWaitForFences (ceilings)");
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  vk::check(vkResetFences(ctx.device(), 1, &s_->fence), "vkResetFences");
  if (!s_->queries || ceiling_ == Ceiling::submit) return wall;
  uint64_t t[2] = {};
  vk::check(vkGetQueryPoolResults(ctx.device(), s_->queries, 0, 2, sizeof t, t, 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
            "vkGetQueryPoolResults");
  const uint32_t bits = device_->timestamp_bits;
  const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  return double((t[1] - t[0]) & mask) * double(ctx.limits().timestampPeriod) * 1e-9;
}

double Run::flop() const {
  if (ceiling_ != Ceiling::fma) return 0;
  return double(size_.groups) * kLocal * size_.rounds * kFmaChains * 4 * 2 * size_.dispatches;
}

double Run::bytes() const {
  const double in = double(input_bytes(ceiling_, size_)), out = double(output_bytes(ceiling_, size_));
  return reads(ceiling_) ? (in + out) * size_.dispatches : 0;
}

void Run::upload(std::span<const float> input) {
  const VkDeviceSize bytes = input.size_bytes();
  if (bytes != s_->in.bytes())
    throw BackendError(std::string("vulkan ceilings: ") + ceiling_name(ceiling_) + ": upload of " + std::to_string(bytes) +
                       " bytes into an input of " + std::to_string(s_->in.bytes()));
  Buffer staging(device_->ctx, bytes, Buffer::Where::host, "ceilings: upload staging");
  std::memcpy(staging.mapped(), input.data(), bytes);
  staging.flush(0, bytes);
  transfer(*device_, staging.handle(), s_->in.handle(), bytes, false);
}

std::vector<float> Run::download() {
  const VkDeviceSize bytes = s_->out.bytes();
  std::vector<float> out(bytes / sizeof(float));
  if (!bytes) return out;
  Buffer staging(device_->ctx, bytes, Buffer::Where::host, "ceilings: download staging");
  transfer(*device_, s_->out.handle(), staging.handle(), bytes, true);
  staging.invalidate(0, bytes);
  std::memcpy(out.data(), staging.mapped(), bytes);
  return out;
}

}  // namespace gg::bench::vulkan
