#include "memory.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include <graphgrad/backends/backend.h>

#include "counters.h"
#include "kernels.h"

namespace gg::vk {
namespace {

constexpr VkMemoryPropertyFlags kVisible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
constexpr VkMemoryPropertyFlags kCoherent = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

// A host-visible type for staging and read-back. Automatic: coherent where
// there is one (no flushes), cached preferred (read-back); discrete: a
// non-coherent one where there is one, to run what such GPUs need.
uint32_t host_type(const Context& ctx, uint32_t bits) {
  if (ctx.memory_mode() == MemoryMode::discrete) {
    const VkPhysicalDeviceMemoryProperties& m = ctx.memory();
    for (uint32_t i = 0; i < m.memoryTypeCount; ++i)
      if ((bits & (1u << i)) && (m.memoryTypes[i].propertyFlags & (kVisible | kCoherent)) == kVisible) return i;
  }
  const uint32_t t = ctx.memory_type(bits, kVisible | kCoherent, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  return t != UINT32_MAX ? t : ctx.memory_type(bits, kVisible, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
}

}  // namespace

Counters& counters() {
  static Counters c;
  return c;
}

VkDeviceSize host_align(const Context& ctx) {
  return std::max<VkDeviceSize>(kSliceAlign, ctx.limits().nonCoherentAtomSize);
}

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
  // Uniform texel buffers: read-only operands of the streaming kernels (shaders/texel.glsl).
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
             VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(device_, &bi, nullptr, &buffer_), ("vkCreateBuffer for the " + what).c_str());
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device_, buffer_, &req);
  const uint32_t type = where == Where::host ? host_type(ctx, req.memoryTypeBits)
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
  memory_bytes_ = req.size;
  atom_ = std::max<VkDeviceSize>(1, ctx.limits().nonCoherentAtomSize);
  const VkMemoryPropertyFlags flags = ctx.memory().memoryTypes[type].propertyFlags;
  const bool discrete = ctx.memory_mode() == MemoryMode::discrete;
  // A device buffer is mapped only where unified memory allows it, and never
  // in the discrete mode (a discrete GPU's device-local memory is not mappable).
  const bool map = (flags & kVisible) && (where == Where::host || !discrete);
  if (!map) return;
  check(vkMapMemory(device_, memory_, 0, VK_WHOLE_SIZE, 0, &mapped_), ("vkMapMemory for the " + what).c_str());
  host_ = mapped_;
  coherent_ = (flags & kCoherent) && !discrete;
  if (where == Where::device) ++counters().device_local_mapped;
  if (discrete && (flags & kCoherent)) {  // emulate non-coherent memory (memory.h)
    shadow_ = std::make_unique<char[]>(memory_bytes_);
    std::memcpy(shadow_.get(), mapped_, memory_bytes_);
    host_ = shadow_.get();
    ++counters().emulated_noncoherent;
  }
}

VkMappedMemoryRange Buffer::range(VkDeviceSize offset, VkDeviceSize bytes) const {
  const VkDeviceSize start = offset / atom_ * atom_;
  const VkDeviceSize end = std::min(memory_bytes_, (offset + bytes + atom_ - 1) / atom_ * atom_);
  // Either a multiple of the atom or up to the allocation's end, as the spec requires.
  return {VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr, memory_, start, end - start};
}

void Buffer::flush(VkDeviceSize offset, VkDeviceSize bytes) {
  if (coherent_ || !bytes) return;
  const VkMappedMemoryRange r = range(offset, bytes);
  if (shadow_) std::memcpy(static_cast<char*>(mapped_) + r.offset, shadow_.get() + r.offset, r.size);
  check(vkFlushMappedMemoryRanges(device_, 1, &r), "vkFlushMappedMemoryRanges");
  ++counters().flushes;
}

void Buffer::invalidate(VkDeviceSize offset, VkDeviceSize bytes) {
  if (coherent_ || !bytes) return;
  const VkMappedMemoryRange r = range(offset, bytes);
  check(vkInvalidateMappedMemoryRanges(device_, 1, &r), "vkInvalidateMappedMemoryRanges");
  if (shadow_) std::memcpy(shadow_.get() + r.offset, static_cast<char*>(mapped_) + r.offset, r.size);
  ++counters().invalidates;
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  std::swap(device_, o.device_), std::swap(buffer_, o.buffer_), std::swap(memory_, o.memory_);
  std::swap(bytes_, o.bytes_), std::swap(memory_bytes_, o.memory_bytes_), std::swap(atom_, o.atom_);
  std::swap(mapped_, o.mapped_), std::swap(host_, o.host_), std::swap(coherent_, o.coherent_), std::swap(shadow_, o.shadow_);
  return *this;
}

Buffer::~Buffer() {
  if (!device_) return;
  if (buffer_) vkDestroyBuffer(device_, buffer_, nullptr);
  if (memory_) vkFreeMemory(device_, memory_, nullptr);  // unmaps too
}

}  // namespace gg::vk
