// Shared helpers for the ops' shape rules: uniform, precise error messages.
#pragma once
#include <string>

#include <graphgrad/graph/graph.h>
#include <graphgrad/graph/op.h>

namespace gg::ops::detail {

[[noreturn]] inline void fail(const Node& n, const char* op, const std::string& what) {
  throw GraphError(std::string(op) + " \"" + n.name + "\": " + what);
}

// The name a node built now gets (the caller's, or Graph::add's "<op>_<id>"),
// for the errors a builder throws before it adds the node: they must name it
// too, and an empty name names nothing.
inline std::string node_name(const Graph& g, const char* op, const std::string& name) {
  return name.empty() ? std::string(op) + "_" + std::to_string(g.size()) : name;
}

inline void expect_inputs(const Node& n, const char* op, size_t lo, size_t hi) {
  if (n.inputs.size() < lo || n.inputs.size() > hi)
    fail(n, op, "takes " + std::to_string(lo) + (lo == hi ? "" : "-" + std::to_string(hi)) + " inputs, got " +
                    std::to_string(n.inputs.size()));
}

// The input's node, checked for rank and type; `role` names it in errors ("input x").
inline const Node& input(const Graph& g, const Node& n, const char* op, size_t i, int rank, const char* role,
                         DType dtype = DType::f32) {
  const Node& in = g.node(n.inputs.at(i));
  if (rank >= 0 && in.shape.rank() != rank)
    fail(n, op, std::string(role) + " " + g.describe(in.id) + " must have rank " + std::to_string(rank));
  if (in.dtype != dtype)
    fail(n, op, std::string(role) + " " + g.describe(in.id) + " must be " + dtype_name(dtype));
  return in;
}

// Two dimensions agree when equal (a symbolic batch matches only a symbolic batch).
inline void expect_dim(const Graph& g, const Node& n, const char* op, const Node& a, int ai, const Node& b, int bi,
                       const char* what) {
  if (a.shape[ai] != b.shape[bi])
    fail(n, op, std::string(what) + " mismatch: " + g.describe(a.id) + " and " + g.describe(b.id));
}

}  // namespace gg::ops::detail
