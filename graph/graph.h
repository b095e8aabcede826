// The graph IR: an append-only list of nodes, each with explicit inputs, a
// shape, a type and attributes. Because a node can only name nodes that already
// exist, node ids are a topological order and the graph cannot hold a cycle.
#pragma once
#include <graphgrad/graph/error.h>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "attrs.h"
#include "shape.h"

namespace gg {

class Op;
enum class OpRole { compute, input, parameter, state, constant };
using NodeId = int32_t;
inline constexpr NodeId kNoNode = -1;

// A graph-building error; its message names the node and the shapes at fault.
class GraphError : public Error {
 public:
  using Error::Error;
};

struct Node {
  NodeId id = kNoNode;
  const Op* op = nullptr;
  std::vector<NodeId> inputs;
  Attrs attrs;
  Shape shape;
  DType dtype = DType::f32;
  std::string name;
};

// How a parameter's initial value is drawn (Keras's defaults: Glorot-uniform
// weights, zero biases).
struct Init {
  enum class Kind { zeros, constant, glorot_uniform, uniform } kind = Kind::zeros;
  double a = 0, b = 0;  // constant: a; uniform: [a, b); glorot: fan_in, fan_out
  static Init zeros() { return {}; }
  static Init constant(double v) { return {Kind::constant, v, 0}; }
  static Init uniform(double lo, double hi) { return {Kind::uniform, lo, hi}; }
  static Init glorot_uniform(double fan_in, double fan_out) { return {Kind::glorot_uniform, fan_in, fan_out}; }
};

class Graph {
 public:
  explicit Graph(uint64_t seed = 0) : rng_(seed) {}

  // Leaves. Names must be unique; a placeholder's first dimension may be kBatch.
  NodeId placeholder(const std::string& name, Shape shape, DType dtype = DType::f32);
  NodeId parameter(const std::string& name, Shape shape, Init init);
  NodeId state(const std::string& name, Shape shape, float fill = 0);  // optimizer slots
  NodeId constant(const std::string& name, Shape shape, std::vector<float> values);

  // Appends a compute node; runs the op's shape rule, which throws GraphError on
  // a mismatch. An empty name gets "<op>_<id>".
  NodeId add(const Op& op, std::vector<NodeId> inputs, Attrs attrs = {}, std::string name = {});

  const Node& node(NodeId id) const;
  const std::vector<Node>& nodes() const { return nodes_; }
  int size() const { return static_cast<int>(nodes_.size()); }
  NodeId find(const std::string& name) const;  // kNoNode when absent
  NodeId at(const std::string& name) const;    // throws GraphError naming it when absent

  // Initial value of a parameter, state or constant.
  const std::vector<float>& initial_value(NodeId id) const;
  std::vector<NodeId> nodes_with_role(OpRole role) const;
  std::vector<NodeId> parameters() const;
  std::vector<NodeId> variables() const;  // parameters and states: the values that persist between runs

  // The nodes that `targets` depend on, in execution order: the leaves, then
  // ascending ids, with nodes that update inputs in place moved after every other node, nodes
  // placed early right after their last input and nodes placed late right
  // before their first consumer (Op::placement).
  std::vector<NodeId> schedule(const std::vector<NodeId>& targets) const;
  // Checks every node's inputs and re-runs its shape rule.
  void validate() const;

  std::string dump() const;    // one line per node
  std::string to_dot() const;  // Graphviz

  // A readable description of a node for error messages: 'conv2d "conv_1" [N,32,26,26]'.
  std::string describe(NodeId id) const;

  // Removes every node from `size` on: undoes a multi-node edit that failed
  // half-way (autodiff, compile), so the graph is as it was before it.
  void truncate(int size);

  // While one of these lives, a name that is already taken gets a numeric
  // suffix ("grad/dense_1/x_2") instead of being an error: autodiff names its
  // nodes after the forward nodes, and may run more than once on a graph.
  class RenameClashes {
   public:
    explicit RenameClashes(Graph& g) : g_(g), was_(g.rename_clashes_) { g.rename_clashes_ = true; }
    ~RenameClashes() { g_.rename_clashes_ = was_; }
    RenameClashes(const RenameClashes&) = delete;
    RenameClashes& operator=(const RenameClashes&) = delete;

   private:
    Graph& g_;
    bool was_;
  };

 private:
  NodeId push(Node n);
  void check_new_name(const std::string& name) const;

  std::vector<Node> nodes_;
  std::unordered_map<std::string, NodeId> by_name_;
  std::unordered_map<NodeId, std::vector<float>> values_;
  std::mt19937_64 rng_;
  bool rename_clashes_ = false;
};

}  // namespace gg
