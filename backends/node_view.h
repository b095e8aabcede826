// A node's shapes at the run's batch size: what every backend's kernels ask.
#pragma once
#include <cstdint>

#include <graphgrad/graph/graph.h>

namespace gg {

struct NodeView {
  const Graph* graph = nullptr;
  const Node* node = nullptr;
  int64_t batch = 0;

  const Shape& in_shape(int i) const { return graph->node(node->inputs[static_cast<size_t>(i)]).shape; }
  // A dimension with a symbolic batch resolved.
  int64_t in_dim(int i, int d) const { int64_t v = in_shape(i)[d]; return v == kBatch ? batch : v; }
  int64_t out_dim(int d) const { int64_t v = node->shape[d]; return v == kBatch ? batch : v; }
  int64_t in_numel(int i) const { return in_shape(i).numel(batch); }
  int64_t out_numel() const { return node->shape.numel(batch); }
};

}  // namespace gg
