// Device buffers: one VkBuffer with its own allocation, device-local or
// host-visible (then persistently mapped), checked against the device's limits.
#pragma once
#include <cstdint>
#include <string>

#include "context.h"

namespace gg::vk {

class Buffer {
 public:
  enum class Where { device, host };  // device: device-local preferred; host: host-visible + coherent required
  Buffer() = default;
  Buffer(Context& ctx, VkDeviceSize bytes, Where where, const std::string& what);
  ~Buffer();
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  VkBuffer handle() const { return buffer_; }
  VkDeviceSize bytes() const { return bytes_; }
  void* mapped() const { return mapped_; }  // nullptr unless host-visible

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkDeviceSize bytes_ = 0;
  void* mapped_ = nullptr;
};

}  // namespace gg::vk
