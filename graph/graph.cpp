#include "graph.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "op.h"

namespace gg {

// The leaves: values that come from outside the graph's arithmetic.
namespace {
class LeafOp final : public Op {
 public:
  LeafOp(const char* name, OpId id, OpRole role) : name_(name), id_(id), role_(role) {}
  const char* name() const override { return name_; }
  OpId id() const override { return id_; }
  double flops(const Graph&, const Node&, int64_t) const override { return 0; }
  OpRole role() const override { return role_; }
  TypedShape infer(const Graph&, const Node& n) const override { return {n.shape, n.dtype}; }
  std::vector<NodeId> grad(Graph&, NodeId, NodeId, const std::vector<bool>& needs) const override {
    return std::vector<NodeId>(needs.size(), kNoNode);
  }

 private:
  const char* name_;
  OpId id_;
  OpRole role_;
};
const LeafOp kPlaceholder("placeholder", graph_ops::placeholder, OpRole::input);
const LeafOp kParameter("parameter", graph_ops::parameter, OpRole::parameter);
const LeafOp kState("state", graph_ops::state, OpRole::state);
const LeafOp kConstant("constant", graph_ops::constant, OpRole::constant);

void check_static(const std::string& name, const Shape& s, const char* what) {
  for (int64_t d : s.dims())
    if (d <= 0) throw GraphError(std::string(what) + " \"" + name + "\": shape " + s.str() + " must be fully known and positive");
}
}  // namespace

std::vector<NodeId> Op::grad(Graph& g, NodeId node, NodeId, const std::vector<bool>&) const {
  throw GraphError("no gradient rule for " + g.describe(node));
}

void Graph::check_new_name(const std::string& name) const {
  if (name.empty()) throw GraphError("a node needs a name");
  if (by_name_.count(name)) throw GraphError("duplicate node name \"" + name + "\": already used by " + describe(by_name_.at(name)));
}

NodeId Graph::push(Node n) {
  n.id = static_cast<NodeId>(nodes_.size());
  by_name_[n.name] = n.id;
  nodes_.push_back(std::move(n));
  return nodes_.back().id;
}

NodeId Graph::placeholder(const std::string& name, Shape shape, DType dtype) {
  check_new_name(name);
  for (int i = 0; i < shape.rank(); ++i)
    if (shape[i] <= 0 && !(i == 0 && shape[i] == kBatch))
      throw GraphError("placeholder \"" + name + "\": shape " + shape.str() + " has a non-positive dimension");
  return push(Node{kNoNode, &kPlaceholder, {}, {}, std::move(shape), dtype, name});
}

NodeId Graph::parameter(const std::string& name, Shape shape, Init init) {
  check_new_name(name);
  check_static(name, shape, "parameter");
  std::vector<float> v(static_cast<size_t>(shape.numel()), 0.0f);
  switch (init.kind) {
    case Init::Kind::zeros: break;
    case Init::Kind::constant: std::fill(v.begin(), v.end(), static_cast<float>(init.a)); break;
    case Init::Kind::uniform:
    case Init::Kind::glorot_uniform: {
      double lo = init.a, hi = init.b;
      if (init.kind == Init::Kind::glorot_uniform) {
        double limit = std::sqrt(6.0 / (init.a + init.b));
        lo = -limit, hi = limit;
      }
      std::uniform_real_distribution<double> dist(lo, hi);
      for (auto& x : v) x = static_cast<float>(dist(rng_));
      break;
    }
  }
  NodeId id = push(Node{kNoNode, &kParameter, {}, {}, std::move(shape), DType::f32, name});
  values_[id] = std::move(v);
  return id;
}

NodeId Graph::state(const std::string& name, Shape shape, float fill) {
  check_new_name(name);
  check_static(name, shape, "state");
  std::vector<float> v(static_cast<size_t>(shape.numel()), fill);
  NodeId id = push(Node{kNoNode, &kState, {}, {}, std::move(shape), DType::f32, name});
  values_[id] = std::move(v);
  return id;
}

NodeId Graph::constant(const std::string& name, Shape shape, std::vector<float> values) {
  check_new_name(name);
  check_static(name, shape, "constant");
  if (static_cast<int64_t>(values.size()) != shape.numel())
    throw GraphError("constant \"" + name + "\": " + std::to_string(values.size()) + " values for shape " + shape.str());
  NodeId id = push(Node{kNoNode, &kConstant, {}, {}, std::move(shape), DType::f32, name});
  values_[id] = std::move(values);
  return id;
}

NodeId Graph::add(const Op& op, std::vector<NodeId> inputs, Attrs attrs, std::string name) {
  if (name.empty()) name = std::string(op.name()) + "_" + std::to_string(size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i] < 0 || inputs[i] >= size())
      throw GraphError(std::string(op.name()) + " \"" + name + "\": input " + std::to_string(i) +
                       " (node id " + std::to_string(inputs[i]) +
                       ") is not a node of this graph (a node can only take nodes built before it, so no cycle can form)");
  if (rename_clashes_ && by_name_.count(name)) {
    const std::string base = name;
    for (int k = 2; by_name_.count(name); ++k) name = base + "_" + std::to_string(k);
  }
  check_new_name(name);
  Node n{kNoNode, &op, std::move(inputs), std::move(attrs), {}, DType::f32, std::move(name)};
  TypedShape ts = op.infer(*this, n);  // throws GraphError naming the node
  // A shape no backend can hold (graphgrad has no empty tensors), should a
  // shape rule let one through: refused here, before any kernel sees it.
  for (int i = 0; i < ts.shape.rank(); ++i)
    if (ts.shape[i] <= 0 && !(i == 0 && ts.shape[i] == kBatch))
      throw GraphError(std::string(op.name()) + " \"" + n.name + "\": its shape rule gives " + ts.shape.str() +
                       ", which has a dimension that is neither positive nor a leading batch N");
  n.shape = std::move(ts.shape);
  n.dtype = ts.dtype;
  return push(std::move(n));
}

void Graph::truncate(int size) {
  while (this->size() > size) {
    const Node& n = nodes_.back();
    by_name_.erase(n.name);
    values_.erase(n.id);
    nodes_.pop_back();
  }
}

const Node& Graph::node(NodeId id) const {
  if (id < 0 || id >= size()) throw GraphError("node id " + std::to_string(id) + " is not in the graph");
  return nodes_[static_cast<size_t>(id)];
}

NodeId Graph::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? kNoNode : it->second;
}

NodeId Graph::at(const std::string& name) const {
  NodeId id = find(name);
  if (id == kNoNode) throw GraphError("no node named \"" + name + "\" in the graph");
  return id;
}

const std::vector<float>& Graph::initial_value(NodeId id) const {
  auto it = values_.find(id);
  if (it == values_.end()) throw GraphError(describe(id) + " has no initial value");
  return it->second;
}

std::vector<NodeId> Graph::nodes_with_role(OpRole role) const {
  std::vector<NodeId> out;
  for (const Node& n : nodes_)
    if (n.op->role() == role) out.push_back(n.id);
  return out;
}

std::vector<NodeId> Graph::parameters() const { return nodes_with_role(OpRole::parameter); }

std::vector<NodeId> Graph::variables() const {
  std::vector<NodeId> out;
  for (const Node& n : nodes_)
    if (n.op->role() == OpRole::parameter || n.op->role() == OpRole::state) out.push_back(n.id);
  return out;
}

std::vector<NodeId> Graph::schedule(const std::vector<NodeId>& targets) const {
  std::vector<char> needed(nodes_.size(), 0);
  std::vector<NodeId> stack;
  for (NodeId t : targets) stack.push_back(node(t).id);
  while (!stack.empty()) {
    NodeId id = stack.back();
    stack.pop_back();
    if (needed[static_cast<size_t>(id)]) continue;
    needed[static_cast<size_t>(id)] = 1;
    for (NodeId in : nodes_[static_cast<size_t>(id)].inputs) stack.push_back(in);
  }
  // Leaves (placeholders, parameters, ...) first: they read nothing, and one
  // made late (the data-parallel gradient weight, after the backward pass)
  // must not hold back an early node that reads it.
  std::vector<NodeId> order, updates, early, late;
  for (const Node& n : nodes_)
    if (needed[static_cast<size_t>(n.id)] && n.op->role() != OpRole::compute) order.push_back(n.id);
  for (const Node& n : nodes_) {
    if (!needed[static_cast<size_t>(n.id)] || n.op->role() != OpRole::compute) continue;
    if (!n.op->mutated_inputs().empty()) updates.push_back(n.id);
    else if (n.op->placement() == Op::Placement::early) early.push_back(n.id);
    else if (n.op->placement() == Op::Placement::late) late.push_back(n.id);
    else order.push_back(n.id);
  }
  auto position = [&](NodeId id) { return std::find(order.begin(), order.end(), id); };
  // Early nodes go right after their last input (in ascending id order, so an
  // early node that reads another finds it placed).
  for (NodeId id : early) {
    auto at = order.begin();
    for (NodeId in : nodes_[static_cast<size_t>(id)].inputs)
      if (auto p = position(in); p != order.end()) at = std::max(at, p + 1);
    order.insert(at, id);
  }
  // Late nodes go right before their first consumer (descending, for the same reason).
  for (auto it = late.rbegin(); it != late.rend(); ++it) {
    auto consumer = std::find_if(order.begin(), order.end(), [&](NodeId c) {
      const auto& ins = nodes_[static_cast<size_t>(c)].inputs;
      return std::find(ins.begin(), ins.end(), *it) != ins.end();
    });
    order.insert(consumer, *it);
  }
  // Updates read nothing another update writes, so their relative order is free.
  order.insert(order.end(), updates.begin(), updates.end());
  return order;
}

void Graph::validate() const {
  for (const Node& n : nodes_) {
    for (NodeId in : n.inputs)
      if (in < 0 || in >= n.id) throw GraphError(describe(n.id) + ": input " + std::to_string(in) + " does not precede it");
    TypedShape ts = n.op->infer(*this, n);
    if (!(ts.shape == n.shape) || ts.dtype != n.dtype)
      throw GraphError(describe(n.id) + ": stored shape disagrees with its shape rule " + ts.shape.str());
  }
}

std::string Graph::describe(NodeId id) const {
  if (id < 0 || id >= size()) return "node #" + std::to_string(id);
  const Node& n = nodes_[static_cast<size_t>(id)];
  return std::string(n.op->name()) + " \"" + n.name + "\" " + n.shape.str();
}

std::string Graph::dump() const {
  std::ostringstream os;
  for (const Node& n : nodes_) {
    os << "%" << n.id << " " << n.name << " = " << n.op->name() << "(";
    for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : "") << "%" << n.inputs[i];
    os << ") : " << dtype_name(n.dtype) << n.shape.str();
    if (!n.attrs.all().empty()) os << " {" << n.attrs.str() << "}";
    os << "\n";
  }
  return os.str();
}

std::string Graph::to_dot() const {
  std::ostringstream os;
  os << "digraph graphgrad {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  for (const Node& n : nodes_) {
    const char* shape = "box";
    const char* color = "white";
    switch (n.op->role()) {
      case OpRole::input: shape = "ellipse", color = "lightblue"; break;
      case OpRole::parameter: shape = "ellipse", color = "palegreen"; break;
      case OpRole::state: shape = "ellipse", color = "khaki"; break;
      case OpRole::constant: shape = "ellipse", color = "lightgrey"; break;
      case OpRole::compute: color = n.op->mutated_inputs().empty() ? "white" : "salmon"; break;
    }
    os << "  n" << n.id << " [shape=" << shape << ", style=filled, fillcolor=" << color << ", label=\"" << n.name << "\\n"
       << n.op->name() << " " << n.shape.str() << "\"];\n";
    for (NodeId in : n.inputs) os << "  n" << in << " -> n" << n.id << ";\n";
  }
  os << "}\n";
  return os.str();
}

}  // namespace gg
