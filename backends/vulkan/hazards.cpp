#include "hazards.h"

namespace gg::vk {

bool HazardTracker::conflicts(const std::vector<Access>& next) const {
  for (const Access& n : next)
    for (const Access& p : pending_)
      if ((n.write || p.write) && n.buffer == p.buffer && n.begin < p.end && p.begin < n.end) return true;
  return false;
}

}  // namespace gg::vk
