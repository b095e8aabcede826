// Reverse-mode autodiff over the static graph: appends the backward nodes to
// the same graph, summing gradients where a value fans out.
#pragma once
#include <vector>

#include "graph.h"

namespace gg {

// The gradient of the scalar `loss` with respect to each node in `wrt`, as new
// nodes of `g`. Throws GraphError if the loss is not a scalar or does not
// depend on one of `wrt` (naming it).
std::vector<NodeId> grad(Graph& g, NodeId loss, const std::vector<NodeId>& wrt);

// The vector-Jacobian product: the gradient with respect to `wrt` of
// sum(y * dy), where dy is a node of y's shape.
std::vector<NodeId> vjp(Graph& g, NodeId y, NodeId dy, const std::vector<NodeId>& wrt);

// The element-wise sum of two nodes of equal shape (the one op autodiff itself
// needs, to add up the gradients of a value used more than once).
NodeId add(Graph& g, NodeId a, NodeId b, const std::string& name = {});

}  // namespace gg
