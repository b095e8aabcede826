// Device buffers: one VkBuffer with its own allocation, checked against the
// device's limits, and the host's view of it when the host may have one.
//
// Device buffers (parameters, activations, the fed batch) are device-local;
// the host maps one only where that memory is host-visible and the memory
// mode is automatic (context.h), else it reaches them through a host buffer
// (staging) and vkCmdCopyBuffer. Host buffers are host-visible and always
// mapped. Host-visible memory may be non-coherent: the host publishes its
// writes with flush() and sees the device's with invalidate() (whole
// nonCoherentAtomSize blocks: ranges the host and the device write at the
// same time must not share one, see host_align()). In the discrete mode
// both are always called, and where the memory is coherent anyway the host
// works on a shadow copy that only they synchronize, so a missing call shows
// on lavapipe as it would on a GPU.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "context.h"

namespace gg::vk {

class Buffer {
 public:
  enum class Where { device, host };
  Buffer() = default;
  Buffer(Context& ctx, VkDeviceSize bytes, Where where, const std::string& what);
  ~Buffer();
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  VkBuffer handle() const { return buffer_; }
  VkDeviceSize bytes() const { return bytes_; }
  // The host's view, or nullptr when the host does not map this buffer.
  void* mapped() const { return host_; }
  // After the host wrote [offset, offset + bytes), before the device reads it.
  void flush(VkDeviceSize offset, VkDeviceSize bytes);
  // After the device's writes reached the host (a barrier to HOST_READ and a
  // fence wait), before the host reads [offset, offset + bytes).
  void invalidate(VkDeviceSize offset, VkDeviceSize bytes);

 private:
  // The atom-aligned range around [offset, offset + bytes), clipped to the allocation.
  VkMappedMemoryRange range(VkDeviceSize offset, VkDeviceSize bytes) const;

  VkDevice device_ = VK_NULL_HANDLE;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkDeviceSize bytes_ = 0, memory_bytes_ = 0, atom_ = 1;
  void* mapped_ = nullptr;          // vkMapMemory's pointer
  void* host_ = nullptr;            // mapped_, or shadow_ when emulating
  bool coherent_ = true;            // flush and invalidate may be skipped
  std::unique_ptr<char[]> shadow_;  // the emulated non-coherent view (discrete mode on coherent memory)
};

// Alignment of ranges that the host and the device may write at the same
// time in one host buffer: a slice, and never two in one non-coherent atom.
VkDeviceSize host_align(const Context& ctx);

}  // namespace gg::vk
