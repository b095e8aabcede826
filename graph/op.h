// The interface every op implements. graph/ knows ops only through this: an
// op's shape rule and its gradient rule (as more graph nodes) live together in
// one file under ops/, and backends dispatch on name().
#pragma once
#include <vector>

#include "graph.h"

namespace gg {

class Op {
 public:
  virtual ~Op() = default;
  virtual const char* name() const = 0;
  virtual OpRole role() const { return OpRole::compute; }

  // Checks the node's input shapes and attributes and returns its output's
  // shape and type. Throws GraphError naming the node and the shapes at fault.
  virtual TypedShape infer(const Graph& g, const Node& node) const = 0;

  // Vector-Jacobian product: given dy (the gradient of the loss with respect
  // to this node's output), appends nodes computing the gradient with respect
  // to each input i where needs[i] is true, and returns them (kNoNode elsewhere).
  virtual std::vector<NodeId> grad(Graph& g, NodeId node, NodeId dy, const std::vector<bool>& needs) const;

  // Indices of inputs the op updates in place (optimizer updates). Such nodes
  // are scheduled after every other node that reads those inputs.
  virtual std::vector<int> mutated_inputs() const { return {}; }

  // Where the scheduler puts the node: in id order (the default), as early as
  // its inputs allow (the start of an asynchronous operation, so that what
  // follows overlaps it), or as late as its first consumer allows (the wait
  // for one).
  enum class Placement { in_order, early, late };
  virtual Placement placement() const { return Placement::in_order; }

  // Floating-point operations for one run at the given batch size (benchmarks).
  virtual double flops(const Graph& g, const Node& node, int64_t batch) const { return 0; }
};

}  // namespace gg
