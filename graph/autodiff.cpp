#include "autodiff.h"

#include "op.h"

namespace gg {

namespace {
class AddOp final : public Op {
 public:
  const char* name() const override { return "accumulate"; }
  OpId id() const override { return graph_ops::accumulate; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    if (n.inputs.size() != 2) throw GraphError("accumulate \"" + n.name + "\": takes 2 inputs");
    const Node& a = g.node(n.inputs[0]);
    const Node& b = g.node(n.inputs[1]);
    if (!(a.shape == b.shape) || a.dtype != b.dtype)
      throw GraphError("accumulate \"" + n.name + "\": shapes differ: " + g.describe(a.id) + " and " + g.describe(b.id));
    return {a.shape, a.dtype};
  }
  std::vector<NodeId> grad(Graph&, NodeId, NodeId dy, const std::vector<bool>& needs) const override {
    return {needs[0] ? dy : kNoNode, needs[1] ? dy : kNoNode};
  }
  double flops(const Graph& g, const Node& n, int64_t batch) const override { return double(n.shape.numel(batch)); }
};
const AddOp kAdd;
}  // namespace

NodeId add(Graph& g, NodeId a, NodeId b, const std::string& name) { return g.add(kAdd, {a, b}, {}, name); }

std::vector<NodeId> vjp(Graph& g, NodeId y, NodeId dy, const std::vector<NodeId>& wrt) {
  const size_t n = static_cast<size_t>(g.size());
  // A node is relevant when it depends on some wrt node and y depends on it.
  std::vector<char> from_wrt(n, 0), to_y(n, 0);
  for (NodeId w : wrt) from_wrt[static_cast<size_t>(g.node(w).id)] = 1;
  for (size_t i = 0; i < n; ++i)
    for (NodeId in : g.nodes()[i].inputs)
      if (from_wrt[static_cast<size_t>(in)]) from_wrt[i] = 1;
  to_y[static_cast<size_t>(g.node(y).id)] = 1;
  for (size_t i = static_cast<size_t>(y) + 1; i-- > 0;)
    if (to_y[i])
      for (NodeId in : g.nodes()[i].inputs) to_y[static_cast<size_t>(in)] = 1;

  for (NodeId w : wrt)
    if (!(from_wrt[static_cast<size_t>(w)] && to_y[static_cast<size_t>(w)]))
      throw GraphError(g.describe(y) + " does not depend on " + g.describe(w) + ": it has no gradient");

  // Either every gradient node is appended or none is.
  const int size_before = g.size();
  Graph::RenameClashes rename(g);
  try {
  std::vector<std::vector<NodeId>> pending(n);
  std::vector<NodeId> total(n, kNoNode);
  pending[static_cast<size_t>(y)].push_back(dy);
  for (NodeId id = y; id >= 0; --id) {
    auto& contributions = pending[static_cast<size_t>(id)];
    if (contributions.empty()) continue;
    NodeId sum = contributions[0];
    for (size_t k = 1; k < contributions.size(); ++k) sum = add(g, sum, contributions[k]);
    total[static_cast<size_t>(id)] = sum;

    // Copy: grad() appends nodes, which may move the node storage.
    const std::vector<NodeId> inputs = g.node(id).inputs;
    std::vector<bool> needs(inputs.size());
    bool any = false;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto in = static_cast<size_t>(inputs[i]);
      needs[i] = from_wrt[in] && to_y[in];
      any = any || needs[i];
    }
    if (!any) continue;
    const Op* op = g.node(id).op;
    std::vector<NodeId> grads = op->grad(g, id, sum, needs);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!needs[i]) continue;
      if (grads.at(i) == kNoNode)
        throw GraphError(g.describe(id) + " gives no gradient for its input " + g.describe(inputs[i]));
      pending[static_cast<size_t>(inputs[i])].push_back(grads[i]);
    }
  }

  std::vector<NodeId> out;
  for (NodeId w : wrt) {
    if (total[static_cast<size_t>(w)] == kNoNode)
      throw GraphError(g.describe(y) + " does not depend on " + g.describe(w) + ": it has no gradient");
    out.push_back(total[static_cast<size_t>(w)]);
  }
  return out;
  } catch (...) {
    g.truncate(size_before);
    throw;
  }
}

std::vector<NodeId> grad(Graph& g, NodeId loss, const std::vector<NodeId>& wrt) {
  if (g.node(loss).shape.rank() != 0)
    throw GraphError("grad: the loss " + g.describe(loss) + " must be a scalar");
  const int size_before = g.size();
  std::string seed_name = "grad/seed_" + g.node(loss).name;
  for (int k = 2; g.find(seed_name) != kNoNode; ++k) seed_name = "grad/seed_" + g.node(loss).name + "_" + std::to_string(k);
  NodeId one = g.constant(seed_name, Shape{}, {1.0f});
  try {
    return vjp(g, loss, one, wrt);
  } catch (...) {
    g.truncate(size_before);
    throw;
  }
}

}  // namespace gg
