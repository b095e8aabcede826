// The interface every op implements. graph/ knows ops only through this: an
// op's shape rule and its gradient rule (as more graph nodes) live together in
// one file under ops/, and backends dispatch on id(), the op's row in the op
// table (ops/op_table.h).
#pragma once
#include <vector>

#include "graph.h"

namespace gg {

// An op's row in the op table: the built-in ops are numbered by
// ops/op_table.h, user-defined ops get ids past them at registration.
using OpId = uint32_t;

// The ops graph/ itself defines (leaves, and the gradient accumulation that
// autodiff writes); ops/op_table.h lists them first and checks these numbers.
namespace graph_ops {
inline constexpr OpId placeholder = 0, parameter = 1, state = 2, constant = 3, accumulate = 4;
}

class Op {
 public:
  virtual ~Op() = default;
  virtual const char* name() const = 0;
  virtual OpId id() const = 0;
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

  // Floating-point operations for one run at the given batch size: the one
  // formula the benchmarks use too. Pure, so that no op can forget it (a shape
  // op says 0).
  virtual double flops(const Graph& g, const Node& node, int64_t batch) const = 0;
};

}  // namespace gg
