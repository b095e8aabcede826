#include "memory_plan.h"

#include <algorithm>
#include <limits>
#include <map>

namespace gg {

MemoryPlan plan_memory(const Graph& g, const std::vector<NodeId>& schedule, const std::vector<NodeId>& pinned,
                       const std::function<int64_t(const Node&)>& bytes,
                       const std::function<NodeId(const Node&)>& alias, int64_t alignment,
                       const std::function<bool(const Node&)>& in_place) {
  const size_t n = static_cast<size_t>(g.size());
  std::vector<NodeId> root(n);
  for (size_t i = 0; i < n; ++i) root[i] = static_cast<NodeId>(i);
  for (NodeId id : schedule) {
    NodeId a = alias(g.node(id));
    if (a != kNoNode) root[static_cast<size_t>(id)] = root[static_cast<size_t>(a)];
  }

  // The last schedule position that reads each root buffer.
  constexpr int kForever = std::numeric_limits<int>::max();
  std::vector<int> last_use(n, -1);
  for (int pos = 0; pos < static_cast<int>(schedule.size()); ++pos) {
    const Node& node = g.node(schedule[static_cast<size_t>(pos)]);
    last_use[static_cast<size_t>(root[static_cast<size_t>(node.id)])] =
        std::max(last_use[static_cast<size_t>(root[static_cast<size_t>(node.id)])], pos);
    for (NodeId in : node.inputs) {
      auto r = static_cast<size_t>(root[static_cast<size_t>(in)]);
      last_use[r] = std::max(last_use[r], pos);
    }
  }
  for (NodeId p : pinned) last_use[static_cast<size_t>(root[static_cast<size_t>(p)])] = kForever;

  // In-place outputs join their input's block: the block lives until the last
  // read of any value it held. A value is last read where the next one is
  // written over it, so the values of one block never overlap in time.
  std::vector<NodeId> block(n);
  for (size_t i = 0; i < n; ++i) block[i] = static_cast<NodeId>(i);
  std::vector<int> block_last = last_use;
  if (in_place) {
    for (int pos = 0; pos < static_cast<int>(schedule.size()); ++pos) {
      const Node& node = g.node(schedule[static_cast<size_t>(pos)]);
      if (root[static_cast<size_t>(node.id)] != node.id || node.inputs.empty() || !in_place(node)) continue;
      const NodeId v = root[static_cast<size_t>(node.inputs[0])];
      const Node& vn = g.node(v);
      const int64_t size = bytes(node);
      if (last_use[static_cast<size_t>(v)] != pos || size <= 0 || bytes(vn) != size) continue;
      const auto b = static_cast<size_t>(block[static_cast<size_t>(v)]);
      block[static_cast<size_t>(node.id)] = static_cast<NodeId>(b);
      block_last[b] = std::max(block_last[b], last_use[static_cast<size_t>(node.id)]);
    }
  }

  MemoryPlan plan;
  plan.offset.assign(n, -1);
  struct Block {
    int64_t size;
    int last_use;
  };
  std::map<int64_t, Block> live;  // by offset
  for (int pos = 0; pos < static_cast<int>(schedule.size()); ++pos) {
    const Node& node = g.node(schedule[static_cast<size_t>(pos)]);
    if (root[static_cast<size_t>(node.id)] != node.id) continue;   // an alias: placed below
    if (block[static_cast<size_t>(node.id)] != node.id) continue;  // in place over its input: below
    int64_t size = bytes(node);
    if (size <= 0) continue;
    size = (size + alignment - 1) / alignment * alignment;
    // Free what nobody reads from here on: those readers all ran before pos.
    for (auto it = live.begin(); it != live.end();) it = it->second.last_use < pos ? live.erase(it) : std::next(it);
    // First gap that fits.
    int64_t at = 0;
    for (const auto& [off, b] : live) {
      if (off - at >= size) break;
      at = std::max(at, off + b.size);
    }
    live.emplace(at, Block{size, block_last[static_cast<size_t>(node.id)]});
    plan.offset[static_cast<size_t>(node.id)] = at;
    plan.total_bytes = std::max(plan.total_bytes, at + size);
  }
  for (NodeId id : schedule) {
    const auto r = static_cast<size_t>(root[static_cast<size_t>(id)]);
    plan.offset[static_cast<size_t>(id)] = plan.offset[static_cast<size_t>(block[r])];
  }
  return plan;
}

}  // namespace gg
