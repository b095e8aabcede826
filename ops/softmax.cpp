// softmax and log_softmax over any axis, and their backward ops:
// softmax dx = y * (dy - sum(dy * y)), log_softmax dx = dy - exp(y) * sum(dy),
// the sums along the axis. The axis is stored normalized (0 <= axis < rank).
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

// The axis attribute, checked against x's rank (it is normalized by the builders).
void check_axis(const Graph& g, const Node& n, const char* op, const Node& x) {
  const int64_t axis = n.attrs.i("axis");
  if (x.shape.rank() == 0) fail(n, op, "input " + g.describe(x.id) + " must have rank >= 1");
  if (axis < 0 || axis >= x.shape.rank())
    fail(n, op, "axis " + std::to_string(axis) + " is out of range for " + g.describe(x.id));
}

class SoftmaxOp final : public Op {
 public:
  SoftmaxOp(const char* name, OpId id) : name_(name), id_(id) {}
  const char* name() const override { return name_; }
  OpId id() const override { return id_; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& x = detail::input(g, n, name(), 0, -1, "input x");
    check_axis(g, n, name(), x);
    return {x.shape, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    if (!needs[0]) return {kNoNode};
    const Node n = g.node(id);
    const int axis = static_cast<int>(n.attrs.i("axis"));
    const std::string p = "grad/" + n.name + "/x";
    return {id_ == id::softmax ? softmax_backward(g, dy, id, axis, p) : log_softmax_backward(g, dy, id, axis, p)};
  }
  // max, subtract-exp, sum, scale (log_softmax: the log is per row, not per element)
  double flops(const Graph&, const Node& n, int64_t batch) const override { return 3.0 * double(n.shape.numel(batch)); }

 private:
  const char* name_;
  OpId id_;
};

// inputs: dy, y (the forward output)
class SoftmaxBackwardOp final : public Op {
 public:
  SoftmaxBackwardOp(const char* name, OpId id) : name_(name), id_(id) {}
  const char* name() const override { return name_; }
  OpId id() const override { return id_; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    const Node& dy = detail::input(g, n, name(), 0, -1, "gradient dy");
    const Node& y = detail::input(g, n, name(), 1, -1, "output y");
    if (dy.shape != y.shape) fail(n, name(), "gradient " + g.describe(dy.id) + " does not match " + g.describe(y.id));
    check_axis(g, n, name(), y);
    return {y.shape, DType::f32};
  }
  // softmax: multiply-add for the dot, subtract and multiply; log_softmax: sum, exp, multiply, subtract.
  double flops(const Graph&, const Node& n, int64_t batch) const override { return 4.0 * double(n.shape.numel(batch)); }

 private:
  const char* name_;
  OpId id_;
};

const SoftmaxOp kSoftmax("softmax", id::softmax), kLogSoftmax("log_softmax", id::log_softmax);
const SoftmaxBackwardOp kSoftmaxBackward("softmax_backward", id::softmax_backward),
    kLogSoftmaxBackward("log_softmax_backward", id::log_softmax_backward);

// `axis` normalized against the rank of `x`, or a GraphError naming the node to be.
int64_t normalized(const Graph& g, const Op& op, NodeId x, int axis, const std::string& name) {
  const int rank = g.node(x).shape.rank();
  if (rank == 0 || axis < -rank || axis >= rank)
    throw GraphError(std::string(op.name()) + " \"" + detail::node_name(g, op.name(), name) + "\": axis " +
                     std::to_string(axis) + " is out of range for " + g.describe(x));
  return axis < 0 ? axis + rank : axis;
}

NodeId add(Graph& g, const Op& op, std::vector<NodeId> inputs, NodeId shaped, int axis, const std::string& name) {
  const int64_t a = normalized(g, op, shaped, axis, name);
  return g.add(op, std::move(inputs), Attrs{{"axis", a}}, name);
}
}  // namespace

NodeId softmax(Graph& g, NodeId x, int axis, const std::string& name) { return add(g, kSoftmax, {x}, x, axis, name); }
NodeId softmax(Graph& g, NodeId x, const std::string& name) { return softmax(g, x, -1, name); }
NodeId log_softmax(Graph& g, NodeId x, int axis, const std::string& name) {
  return add(g, kLogSoftmax, {x}, x, axis, name);
}
NodeId softmax_backward(Graph& g, NodeId dy, NodeId y, int axis, const std::string& name) {
  return add(g, kSoftmaxBackward, {dy, y}, y, axis, name);
}
NodeId log_softmax_backward(Graph& g, NodeId dy, NodeId y, int axis, const std::string& name) {
  return add(g, kLogSoftmaxBackward, {dy, y}, y, axis, name);
}

}  // namespace gg::ops
