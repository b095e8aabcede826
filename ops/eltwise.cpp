// The element-wise ops' Op classes, one instance per line of eltwise.def:
// shape rules (same shape; NumPy broadcasting), gradient rules (the line's
// derivative as a backward op, summed over broadcast axes) and builders.
#include "eltwise.h"

#include <memory>
#include <stdexcept>
#include <variant>

#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

#define GG_UNARY(name, uses, flops, lo, hi, onnx, ...) \
  UnaryInfo{id::name, id::name##_backward, #name, Uses::uses, 0, flops, lo, hi, onnx},
#define GG_UNARY_P(name, uses, flops, lo, hi, onnx, ...) \
  UnaryInfo{id::name, id::name##_backward, #name, Uses::uses, 2, flops, lo, hi, onnx},
#define GG_BINARY(...)
constexpr UnaryInfo kUnary[] = {
#include "eltwise.def"
};
#undef GG_UNARY
#undef GG_UNARY_P
#undef GG_BINARY
#define GG_UNARY(...)
#define GG_UNARY_P(...)
#define GG_BINARY(name, flops, lo, hi, onnx, ...) BinaryInfo{id::name, id::name##_backward, #name, flops, lo, hi, onnx},
constexpr BinaryInfo kBinary[] = {
#include "eltwise.def"
};
#undef GG_UNARY
#undef GG_UNARY_P
#undef GG_BINARY

// The attribute names of the GG_UNARY_P ops, in p0, p1 order.
std::array<std::string_view, 2> param_names(OpId op) {
  switch (op) {
    case id::leaky_relu: case id::leaky_relu_backward: return {"alpha", ""};
    case id::elu: case id::elu_backward: return {"alpha", ""};
    case id::softplus: case id::softplus_backward: return {"beta", "threshold"};
    case id::clip: case id::clip_backward: return {"lo", "hi"};
    default: return {"", ""};
  }
}

std::string backward_name(std::string_view name) { return std::string(name) + "_backward"; }

// The float attributes the kernels read (unary_params) must be set: unary()
// sets none, so an attribute op made through it is refused here rather than
// failing in the kernel.
void expect_params(const Node& n, OpId op, const char* name) {
  for (std::string_view p : param_names(op)) {
    if (p.empty()) continue;
    const auto it = n.attrs.all().find(std::string(p));
    if (it == n.attrs.all().end() || !std::holds_alternative<double>(it->second))
      fail(n, name, "needs the float attribute '" + std::string(p) + "' (its own builder sets it; unary() does not)");
  }
}

class UnaryOp final : public Op {
 public:
  explicit UnaryOp(const UnaryInfo& info) : info_(info) {}
  const char* name() const override { return info_.name.data(); }
  OpId id() const override { return info_.op; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    expect_params(n, info_.op, name());
    return {detail::input(g, n, name(), 0, -1, "input x").shape, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override;
  double flops(const Graph&, const Node& n, int64_t batch) const override {
    return info_.flops * double(n.shape.numel(batch));
  }

 private:
  const UnaryInfo& info_;
};

// inputs: dy, then x and/or y as the row's `uses` says.
class UnaryBackwardOp final : public Op {
 public:
  explicit UnaryBackwardOp(const UnaryInfo& info) : info_(info), name_(backward_name(info.name)) {}
  const char* name() const override { return name_.c_str(); }
  OpId id() const override { return info_.backward; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    const size_t want = info_.uses == Uses::xy ? 3 : 2;
    detail::expect_inputs(n, name(), want, want);
    expect_params(n, info_.backward, name());
    const Node& dy = detail::input(g, n, name(), 0, -1, "gradient dy");
    for (size_t i = 1; i < want; ++i) {
      const Node& v = detail::input(g, n, name(), i, -1, "forward value");
      if (v.shape != dy.shape) fail(n, name(), "gradient " + g.describe(dy.id) + " does not match " + g.describe(v.id));
    }
    return {dy.shape, DType::f32};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override {
    return (info_.flops + 1) * double(n.shape.numel(batch));
  }

 private:
  const UnaryInfo& info_;
  std::string name_;
};

std::vector<NodeId> UnaryOp::grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const {
  if (!needs[0]) return {kNoNode};
  const Node n = g.node(id);
  std::vector<NodeId> in{dy};
  if (info_.uses != Uses::y) in.push_back(n.inputs[0]);
  if (info_.uses != Uses::x) in.push_back(id);
  return {g.add(op_for(info_.backward), std::move(in), n.attrs, "grad/" + n.name + "/x")};
}

class BinaryOp final : public Op {
 public:
  explicit BinaryOp(const BinaryInfo& info) : info_(info) {}
  const char* name() const override { return info_.name.data(); }
  OpId id() const override { return info_.op; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    const Node& a = detail::input(g, n, name(), 0, -1, "input a");
    const Node& b = detail::input(g, n, name(), 1, -1, "input b");
    return {broadcast_shapes(a.shape, b.shape, std::string(name()) + " \"" + n.name + "\""), DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    std::vector<NodeId> out(2, kNoNode);
    for (int side = 0; side < 2; ++side) {
      if (!needs[static_cast<size_t>(side)]) continue;
      const std::string base = "grad/" + n.name + (side ? "/b" : "/a");
      Attrs attrs{{"side", int64_t(side)}};
      const NodeId full = g.add(op_for(info_.backward), {dy, n.inputs[0], n.inputs[1], id}, attrs, base + "_full");
      out[static_cast<size_t>(side)] = sum_to(g, full, g.node(n.inputs[static_cast<size_t>(side)]).shape, base);
    }
    return out;
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override {
    return info_.flops * double(n.shape.numel(batch));
  }

 private:
  const BinaryInfo& info_;
};

// inputs: dy, a, b, y; attribute side: 0 for the gradient of a, 1 for b. The
// output has dy's shape: the caller sums it over a's or b's broadcast axes.
class BinaryBackwardOp final : public Op {
 public:
  explicit BinaryBackwardOp(const BinaryInfo& info) : info_(info), name_(backward_name(info.name)) {}
  const char* name() const override { return name_.c_str(); }
  OpId id() const override { return info_.backward; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 4, 4);
    const Node& dy = detail::input(g, n, name(), 0, -1, "gradient dy");
    const Node& a = detail::input(g, n, name(), 1, -1, "input a");
    const Node& b = detail::input(g, n, name(), 2, -1, "input b");
    const Node& y = detail::input(g, n, name(), 3, -1, "output y");
    const std::string what = std::string(name()) + " \"" + n.name + "\"";
    if (broadcast_shapes(a.shape, b.shape, what) != dy.shape || y.shape != dy.shape)
      fail(n, name(), "gradient " + g.describe(dy.id) + " does not match the forward's output " + g.describe(y.id));
    const int64_t side = n.attrs.i("side");
    if (side != 0 && side != 1) fail(n, name(), "side must be 0 (a) or 1 (b), got " + std::to_string(side));
    return {dy.shape, DType::f32};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override {
    return (info_.flops + 1) * double(n.shape.numel(batch));
  }

 private:
  const BinaryInfo& info_;
  std::string name_;
};

// One Op object per row, made once: Op objects must outlive every graph.
struct Instances {
  std::vector<std::unique_ptr<Op>> by_id;
  Instances() : by_id(id::builtin_count) {
    for (const UnaryInfo& u : kUnary) {
      by_id[u.op] = std::make_unique<UnaryOp>(u);
      by_id[u.backward] = std::make_unique<UnaryBackwardOp>(u);
    }
    for (const BinaryInfo& b : kBinary) {
      by_id[b.op] = std::make_unique<BinaryOp>(b);
      by_id[b.backward] = std::make_unique<BinaryBackwardOp>(b);
    }
  }
};
}  // namespace

const Op& op_for(OpId op) {
  static const Instances instances;
  if (op >= instances.by_id.size() || !instances.by_id[op])
    throw std::logic_error("op_for: op " + std::to_string(op) + " is not an element-wise op");
  return *instances.by_id[op];
}

std::span<const UnaryInfo> unary_ops() { return kUnary; }
std::span<const BinaryInfo> binary_ops() { return kBinary; }

const UnaryInfo* unary_info(OpId op) {
  for (const UnaryInfo& u : kUnary)
    if (u.op == op || u.backward == op) return &u;
  return nullptr;
}
const BinaryInfo* binary_info(OpId op) {
  for (const BinaryInfo& b : kBinary)
    if (b.op == op || b.backward == op) return &b;
  return nullptr;
}

std::array<std::string_view, 2> unary_param_names(OpId op) { return param_names(op); }

std::array<float, 2> unary_params(const Node& n) {
  const auto names = param_names(n.op->id());
  std::array<float, 2> p{0, 0};
  for (size_t i = 0; i < 2; ++i)
    if (!names[i].empty()) p[i] = static_cast<float>(n.attrs.f(std::string(names[i])));
  return p;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what) {
  const int rank = std::max(a.rank(), b.rank());
  std::vector<int64_t> out(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) {
    const int ia = a.rank() - rank + i, ib = b.rank() - rank + i;
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da == db || db == 1) out[static_cast<size_t>(i)] = da;
    else if (da == 1) out[static_cast<size_t>(i)] = db;
    else
      throw GraphError(what + ": shapes " + a.str() + " and " + b.str() + " do not broadcast (dimension " +
                       std::to_string(i - rank) + " from the end: " + (da == kBatch ? "N" : std::to_string(da)) +
                       " against " + (db == kBatch ? "N" : std::to_string(db)) + ")");
    if (out[static_cast<size_t>(i)] == kBatch && i != 0)
      throw GraphError(what + ": the symbolic batch of " + a.str() + " or " + b.str() + " would not lead the result");
  }
  return Shape(std::move(out));
}

NodeId unary(Graph& g, OpId op, NodeId x, const std::string& name) { return g.add(op_for(op), {x}, {}, name); }

NodeId binary(Graph& g, OpId op, NodeId a, NodeId b, const std::string& name) {
  return g.add(op_for(op), {a, b}, {}, name);
}

NodeId scalar(Graph& g, float value, const std::string& name) {
  return g.constant(name.empty() ? "scalar_" + std::to_string(g.size()) : name, Shape{}, {value});
}

#define GG_UNARY(name, ...) \
  NodeId name(Graph& g, NodeId x, const std::string& n) { return unary(g, id::name, x, n); }
#define GG_UNARY_P(...)
#define GG_BINARY(name, ...) \
  NodeId name(Graph& g, NodeId a, NodeId b, const std::string& n) { return binary(g, id::name, a, b, n); }
#include "eltwise.def"
#undef GG_UNARY
#undef GG_UNARY_P
#undef GG_BINARY

NodeId leaky_relu(Graph& g, NodeId x, double alpha, const std::string& name) {
  return g.add(op_for(id::leaky_relu), {x}, Attrs{{"alpha", alpha}}, name);
}
NodeId elu(Graph& g, NodeId x, double alpha, const std::string& name) {
  if (!(alpha > 0))
    throw GraphError("elu \"" + detail::node_name(g, "elu", name) + "\": alpha must be > 0, got " + std::to_string(alpha));
  return g.add(op_for(id::elu), {x}, Attrs{{"alpha", alpha}}, name);
}
NodeId softplus(Graph& g, NodeId x, double beta, double threshold, const std::string& name) {
  if (!(beta > 0))
    throw GraphError("softplus \"" + detail::node_name(g, "softplus", name) + "\": beta must be > 0, got " +
                     std::to_string(beta));
  return g.add(op_for(id::softplus), {x}, Attrs{{"beta", beta}, {"threshold", threshold}}, name);
}
NodeId clip(Graph& g, NodeId x, double lo, double hi, const std::string& name) {
  if (!(lo <= hi))
    throw GraphError("clip \"" + detail::node_name(g, "clip", name) + "\": lo " + std::to_string(lo) + " exceeds hi " +
                     std::to_string(hi));
  return g.add(op_for(id::clip), {x}, Attrs{{"lo", lo}, {"hi", hi}}, name);
}

}  // namespace gg::ops
