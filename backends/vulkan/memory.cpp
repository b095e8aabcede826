#include "memory.h"

#include <algorithm>

#include <fmt/format.h>

#include <graphgrad/backends/backend.h>

namespace gg::vk {

Buffer::Buffer(Context& ctx, VkDeviceSize bytes, Where where, const std::string& what) : device_(ctx.device()) {
  bytes = std::max<VkDeviceSize>(bytes, 256);  // no zero-sized buffers
  const DeviceInfo& d = ctx.info();
  if (bytes > d.max_storage_buffer_range)
    throw BackendError(fmt::format("vulkan: the {} needs {:.1f} MiB in one buffer, more than the device's maxStorageBufferRange "
                                   "({:.1f} MiB): use a smaller --batch",
                                   what, double(bytes) / (1 << 20), double(d.max_storage_buffer_range) / (1 << 20)));
  if (d.max_allocation_bytes && bytes > d.max_allocation_bytes)
    throw BackendError(fmt::format("vulkan: the {} needs {:.1f} MiB in one allocation, more than the device's "
                                   "maxMemoryAllocationSize ({:.1f} MiB): use a smaller --batch",
                                   what, double(bytes) / (1 << 20), double(d.max_allocation_bytes) / (1 << 20)));
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = bytes;
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(device_, &bi, nullptr, &buffer_), ("vkCreateBuffer for the " + what).c_str());
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device_, buffer_, &req);
  const uint32_t type =
      where == Where::host
          ? ctx.memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                            VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
          : ctx.memory_type(req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  if (type == UINT32_MAX) {
    vkDestroyBuffer(device_, buffer_, nullptr);
    throw BackendError("vulkan: no suitable memory type for the " + what);
  }
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = type;
  const VkResult r = vkAllocateMemory(device_, &ai, nullptr, &memory_);
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(device_, buffer_, nullptr);
    throw BackendError(fmt::format("vulkan: allocating {:.1f} MiB for the {} failed: {}", double(req.size) / (1 << 20), what,
                                   result_name(r)));
  }
  vkBindBufferMemory(device_, buffer_, memory_, 0);
  bytes_ = bytes;
  // Mapped only when coherent, so plain memcpy is always correct.
  const VkMemoryPropertyFlags coherent = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  if ((ctx.memory().memoryTypes[type].propertyFlags & coherent) == coherent)
    check(vkMapMemory(device_, memory_, 0, VK_WHOLE_SIZE, 0, &mapped_), "vkMapMemory");
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  std::swap(device_, o.device_), std::swap(buffer_, o.buffer_), std::swap(memory_, o.memory_);
  std::swap(bytes_, o.bytes_), std::swap(mapped_, o.mapped_);
  return *this;
}

Buffer::~Buffer() {
  if (!device_) return;
  if (buffer_) vkDestroyBuffer(device_, buffer_, nullptr);
  if (memory_) vkFreeMemory(device_, memory_, nullptr);  // unmaps too
}

}  // namespace gg::vk
