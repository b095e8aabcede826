// Where a command buffer needs a barrier: the byte ranges read and written
// since the last one. A command whose reads overlap a pending write
// (read-after-write), or whose writes overlap a pending read or write
// (write-after-read, write-after-write), needs a barrier first; any other
// command may run beside the ones before it. The memory plan puts unrelated
// values on disjoint bytes (and reuses bytes only after their last reader),
// so the independent dispatches of a step (a layer's input and weight
// gradients, every parameter's update) share one barrier instead of one each.
#pragma once
#include <cstdint>
#include <vector>

#include "context.h"

namespace gg::vk {

struct Access {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize begin = 0, end = 0;  // [begin, end) bytes of the buffer
  bool write = false;
};

class HazardTracker {
 public:
  // True when `next` conflicts with an access since the last clear().
  bool conflicts(const std::vector<Access>& next) const;
  void add(const std::vector<Access>& next) { pending_.insert(pending_.end(), next.begin(), next.end()); }
  // After a barrier that orders everything before it before everything after.
  void clear() { pending_.clear(); }

 private:
  std::vector<Access> pending_;
};

}  // namespace gg::vk
