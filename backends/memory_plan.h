// Buffer planning shared by the backends: every computed value gets an
// offset in one arena, and values whose lifetimes do not overlap share bytes.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include <graphgrad/graph/graph.h>

namespace gg {

struct MemoryPlan {
  std::vector<int64_t> offset;  // per node id, in bytes; -1 when the node has no arena buffer
  int64_t total_bytes = 0;
};

// schedule: execution order. bytes(node): its buffer size at the maximum batch
// (0: not in the arena, e.g. leaves). alias(node): the input whose buffer the
// node reuses (reshape), or kNoNode. Pinned nodes stay alive to the end (the
// fetchable targets). Offsets are multiples of `alignment`.
// in_place(node), when given: the node's kernel may write its output over its
// input 0 (element-wise kernels). The planner then gives the output input 0's
// bytes wherever input 0 (with its aliases) is read by nothing after the node,
// is not pinned, is an arena value and has the output's size.
MemoryPlan plan_memory(const Graph& g, const std::vector<NodeId>& schedule, const std::vector<NodeId>& pinned,
                       const std::function<int64_t(const Node&)>& bytes,
                       const std::function<NodeId(const Node&)>& alias, int64_t alignment = 64,
                       const std::function<bool(const Node&)>& in_place = {});

}  // namespace gg
