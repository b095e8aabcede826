#include "fusion.h"

#include <graphgrad/graph/op.h>
#include <graphgrad/ops/op_table.h>

namespace gg {

std::vector<StepFusion> fuse_conv_relu(const Graph& g, std::span<const Node* const> steps,
                                       const std::vector<bool>& observed) {
  const auto n = static_cast<size_t>(g.size());
  std::vector<StepFusion> f(n);
  std::vector<int> readers(n, 0);
  std::vector<bool> scheduled(n, false);
  for (const Node* s : steps) {
    scheduled[static_cast<size_t>(s->id)] = true;
    for (NodeId in : s->inputs) ++readers[static_cast<size_t>(in)];
  }
  for (const Node* relu : steps) {
    if (relu->op->id() != ops::id::relu) continue;
    const auto conv = static_cast<size_t>(relu->inputs[0]);
    // The conv's pre-relu value must be seen by nobody: one reader (this
    // relu, read once), and not a target.
    if (!scheduled[conv] || readers[conv] != 1 || observed[conv]) continue;
    if (g.node(relu->inputs[0]).op->id() != ops::id::conv2d) continue;
    f[conv].relu_epilogue = true;
    f[static_cast<size_t>(relu->id)].fused_relu = true;
  }
  return f;
}

void skip_fused_relus(const Graph& g, std::vector<StepFusion>& fusion, const std::vector<int64_t>& offset) {
  for (size_t r = 0; r < fusion.size(); ++r) {
    if (!fusion[r].fused_relu) continue;
    const auto conv = static_cast<size_t>(g.node(static_cast<NodeId>(r)).inputs[0]);
    fusion[r].skip = offset[r] >= 0 && offset[r] == offset[conv];
  }
}

}  // namespace gg
