// softmax over the last axis, and its backward op dx = y * (dy - sum(dy * y)).
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

class SoftmaxOp final : public Op {
 public:
  const char* name() const override { return "softmax"; }
  OpId id() const override { return id::softmax; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    return {detail::input(g, n, name(), 0, 2, "input x").shape, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    return {needs[0] ? softmax_backward(g, dy, id, "grad/" + n.name + "/x") : kNoNode};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override { return 3.0 * double(n.shape.numel(batch)); }
};

class SoftmaxBackwardOp final : public Op {
 public:
  const char* name() const override { return "softmax_backward"; }
  OpId id() const override { return id::softmax_backward; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    const Node& dy = detail::input(g, n, name(), 0, 2, "gradient dy");
    const Node& y = detail::input(g, n, name(), 1, 2, "output y");
    if (dy.shape != y.shape) fail(n, name(), "gradient " + g.describe(dy.id) + " does not match " + g.describe(y.id));
    return {y.shape, DType::f32};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override { return 4.0 * double(n.shape.numel(batch)); }
};

const SoftmaxOp kSoftmax;
const SoftmaxBackwardOp kSoftmaxBackward;
}  // namespace

NodeId softmax(Graph& g, NodeId x, const std::string& name) { return g.add(kSoftmax, {x}, {}, name); }
NodeId softmax_backward(Graph& g, NodeId dy, NodeId y, const std::string& name) {
  return g.add(kSoftmaxBackward, {dy, y}, {}, name);
}

}  // namespace gg::ops
