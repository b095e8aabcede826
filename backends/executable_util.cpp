#include "executable_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include <graphgrad/graph/op.h>

namespace gg {

void copy_fetched(DType dtype, const void* src, std::span<float> out) {
  if (dtype == DType::f32) {
    std::memcpy(out.data(), src, out.size() * sizeof(float));
    return;
  }
  const auto* p = static_cast<const char*>(src);
  for (size_t i = 0; i < out.size(); ++i) {
    int32_t v;
    std::memcpy(&v, p + 4 * i, 4);
    out[i] = static_cast<float>(v);
  }
}

void print_profile(const std::string& title, const std::vector<const Node*>& nodes, const std::vector<double>& total_ms,
                   int64_t runs) {
  if (runs <= 0) return;
  const double total = std::accumulate(total_ms.begin(), total_ms.end(), 0.0);
  std::fprintf(stderr, "%s: %lld runs, %.3f ms per run\n", title.c_str(), static_cast<long long>(runs), total / double(runs));
  std::vector<size_t> order(nodes.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return total_ms[a] > total_ms[b]; });
  for (size_t i : order)
    if (total_ms[i] > 0)
      std::fprintf(stderr, "  %6.2f%% %8.3f ms  %-32s %s\n", 100 * total_ms[i] / total, total_ms[i] / double(runs),
                   nodes[i]->op->name(), nodes[i]->name.c_str());
}

bool profiling_requested() {
  const char* p = std::getenv("GRAPHGRAD_PROFILE");
  return p && *p && *p != '0';
}

std::vector<bool> target_values(const Graph& g, std::span<const NodeId> targets,
                                const std::function<NodeId(const Node&)>& alias_of) {
  std::vector<bool> seen(static_cast<size_t>(g.size()), false);
  for (NodeId t : targets) {
    NodeId r = t;
    while (alias_of(g.node(r)) != kNoNode) r = alias_of(g.node(r));
    seen[static_cast<size_t>(r)] = true;
  }
  return seen;
}

}  // namespace gg
