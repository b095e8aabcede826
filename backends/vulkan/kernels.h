// The Vulkan kernel table: per op, a function that records the op's
// dispatches (one or more shaders from shaders/) into the step's command
// buffer through a Recorder. Recording happens once per batch size; the
// command buffer is then re-submitted every step.
#pragma once
#include <volk.h>  // the Vulkan meta-loader: the library loads libvulkan at run time

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include <graphgrad/backends/comm/communicator.h>
#include <graphgrad/backends/node_view.h>
#include <graphgrad/graph/op.h>

namespace gg::vk {

// Offsets handed to kernels are multiples of this (the planner guarantees it;
// it is >= every device's minStorageBufferOffsetAlignment we accept).
inline constexpr VkDeviceSize kSliceAlign = 256;

// A range of a device buffer, bound as one storage buffer.
struct Slice {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0, bytes = 0;
  // A sub-range; `off` is rounded up to kSliceAlign.
  Slice sub(VkDeviceSize off, VkDeviceSize n) const {
    off = (off + kSliceAlign - 1) / kSliceAlign * kSliceAlign;
    return {buffer, offset + off, n};
  }
};

class Recorder {
 public:
  virtual ~Recorder() = default;
  // Records one dispatch of shaders/<shader>.comp with bindings[i] at
  // (set 0, binding i), `push_bytes` (<= 128) of push constants, and
  // gx*gy*gz workgroups; a compute->compute memory barrier follows it.
  virtual void dispatch(std::string_view shader, std::span<const Slice> bindings, const void* push,
                        uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) = 0;
  // dispatch(), also binding texels[i] at (set 1, binding i) as a uniform
  // texel buffer of floats (shaders/texel.glsl): read-only operands that the
  // shader gathers with non-uniform addresses, which CPU implementations
  // (lavapipe) compile to vector loads where a storage buffer costs a scalar
  // loop over the subgroup. Where one holds more elements than max_texels(),
  // the shader's storage-buffer variant "<shader>_ssbo" runs instead, with
  // texels[i] as storage binding bindings.size() + i. Bit i of vec4_mask
  // views texels[i] as vec4s (R32G32B32A32_SFLOAT; TEXEL_INPUT4 in the
  // shader): its size must then be a multiple of 16 bytes.
  virtual void dispatch_texels(std::string_view shader, std::span<const Slice> bindings, std::span<const Slice> texels,
                               const void* push, uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz,
                               uint32_t vec4_mask) = 0;
  // Fills a slice with a 32-bit pattern (0 to zero it); a barrier follows.
  virtual void fill(const Slice& s, uint32_t value) = 0;
  // Copies src's bytes into dst (any offsets); a barrier follows.
  virtual void copy(const Slice& src, const Slice& dst) = 0;
  // The device's maxComputeWorkGroupCount[axis] (>= 65535), or less when
  // forced by GRAPHGRAD_VULKAN_MAX_GROUPS (context.h): never assume more.
  virtual uint32_t max_groups(int axis) const = 0;
  // True for GPUs (discrete, integrated, virtual): kernels may pick variants
  // tuned for shared memory; false for CPU implementations such as lavapipe.
  virtual bool gpu() const = 0;

  template <class Push>
  void dispatch(std::string_view shader, std::initializer_list<Slice> bindings, const Push& push, uint32_t gx,
                uint32_t gy = 1, uint32_t gz = 1) {
    static_assert(sizeof(Push) <= 128, "push constants are limited to 128 bytes");
    dispatch(shader, std::span<const Slice>(bindings.begin(), bindings.size()), &push, sizeof(Push), gx, gy, gz);
  }
  template <class Push>
  void dispatch_texels(std::string_view shader, std::initializer_list<Slice> bindings, std::initializer_list<Slice> texels,
                       const Push& push, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1, uint32_t vec4_mask = 0) {
    static_assert(sizeof(Push) <= 128, "push constants are limited to 128 bytes");
    dispatch_texels(shader, std::span<const Slice>(bindings.begin(), bindings.size()),
                    std::span<const Slice>(texels.begin(), texels.size()), &push, sizeof(Push), gx, gy, gz, vec4_mask);
  }
};

inline constexpr int kMaxInputs = 16;

struct KernelArgs : NodeView {
  Slice in[kMaxInputs];  // the node's inputs, in order (i32 inputs too: 4 bytes per element)
  Slice out;             // the node's output
  Slice scratch;         // scratch(...) bytes, for intermediate buffers (im2col columns, partial sums)
  Slice status;          // 4 bytes, zeroed before each run: a kernel writes non-zero to report bad input
  Recorder* rec = nullptr;
  // conv2d: apply relu to the output as it is written (backends/fusion.h: the
  // relu that alone reads this conv then has nothing left to do).
  bool relu_epilogue = false;
};

using KernelFn = void (*)(const KernelArgs&);

// A host step: work the CPU does between two command buffers of a step (the
// all-reduce of data-parallel training). Its output lives in host-visible
// memory, mapped at `out`; the executable submits everything recorded before
// it and waits for the device first.
struct HostArgs : NodeView {
  float* out = nullptr;                 // the node's output, mapped
  const void* in[kMaxInputs] = {};      // inputs that live in host memory (feeds, host steps' outputs), else nullptr
  Communicator* comm = nullptr;
};
using HostFn = void (*)(const HostArgs&);
// Scratch bytes a kernel needs at the given maximum batch.
using ScratchFn = size_t (*)(const Graph&, const Node&, int64_t max_batch);

struct KernelEntry {
  OpId op;
  KernelFn record = nullptr;    // nullptr: the output aliases input 0 (reshape), unless `host` is set
  ScratchFn scratch = nullptr;  // nullptr: none
  // When status is non-zero after a run, the error to report (the node is named by the caller).
  const char* status_error = nullptr;
  // A host step instead of dispatches. With `gather_from`, the device first
  // copies the node's inputs from that index on, back to back, into the
  // host-visible output (nullptr: no copy).
  HostFn host = nullptr;
  int (*gather_from)(const Node&) = nullptr;
};

// nullptr when the Vulkan backend has no kernel for the op.
const KernelEntry* find_kernel(OpId op);
// A user-defined op's kernel (user_op.h); throws std::logic_error when it has one.
void add_kernel(const KernelEntry& e);

using KernelTable = std::span<const KernelEntry>;
KernelTable conv_kernels();
KernelTable dense_kernels();
KernelTable pool_kernels();
KernelTable avg_pool_kernels();  // avg_pool2d, avg_pool2d_backward
KernelTable elementwise_kernels();
KernelTable eltwise_def_kernels();  // the ops of ops/eltwise.def
KernelTable reduce_kernels();
KernelTable shape_kernels();    // transpose, concat, slice, slice_backward
KernelTable softmax_kernels();
KernelTable loss_kernels();     // softmax_cross_entropy_soft, bce_with_logits, nll_loss
KernelTable optimizer_kernels();
KernelTable batch_norm_kernels();  // batch_norm and its gradient, inference and moving-update ops
KernelTable comm_kernels();

// Workgroups for n items at `local` items per group, capped at the device
// limit (shaders then loop with a grid stride).
inline uint32_t groups_for(int64_t n, uint32_t local, const Recorder& r) {
  const int64_t g = (n + local - 1) / local;
  return static_cast<uint32_t>(g < 1 ? 1 : (g > int64_t(r.max_groups(0)) ? r.max_groups(0) : g));
}

// The shaders index with 32-bit unsigned integers: v as uint32, or a
// BackendError naming the node when it does not fit.
uint32_t u32(const KernelArgs& a, int64_t v);
// n clamped to [1, limit]: a group count.
uint32_t capped(int64_t n, uint32_t limit);

}  // namespace gg::vk
