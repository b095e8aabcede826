// relu and its backward op (dy where y > 0), which reads the output y so the
// input x need not stay alive.
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

class ReluOp final : public Op {
 public:
  const char* name() const override { return "relu"; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    return {detail::input(g, n, name(), 0, -1, "input x").shape, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    return {needs[0] ? relu_backward(g, dy, id, "grad/" + n.name + "/x") : kNoNode};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override { return double(n.shape.numel(batch)); }
};

class ReluBackwardOp final : public Op {
 public:
  const char* name() const override { return "relu_backward"; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    const Node& dy = detail::input(g, n, name(), 0, -1, "gradient dy");
    const Node& y = detail::input(g, n, name(), 1, -1, "output y");
    if (dy.shape != y.shape) fail(n, name(), "gradient " + g.describe(dy.id) + " does not match " + g.describe(y.id));
    return {y.shape, DType::f32};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override { return double(n.shape.numel(batch)); }
};

const ReluOp kRelu;
const ReluBackwardOp kReluBackward;
}  // namespace

NodeId relu(Graph& g, NodeId x, const std::string& name) { return g.add(kRelu, {x}, {}, name); }
NodeId relu_backward(Graph& g, NodeId dy, NodeId y, const std::string& name) {
  return g.add(kReluBackward, {dy, y}, {}, name);
}

}  // namespace gg::ops
