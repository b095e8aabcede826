// 2-D max pooling ('valid', floor mode as Keras) and its backward op, which
// recomputes each window's arg-max from x (the first maximum wins) rather than
// storing indices, so every backend routes the gradient the same way.
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

class MaxPool2dOp final : public Op {
 public:
  const char* name() const override { return "max_pool2d"; }
  OpId id() const override { return id::max_pool2d; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& x = detail::input(g, n, name(), 0, 4, "input x");
    const int64_t p = n.attrs.i("pool"), s = n.attrs.i("stride");
    if (p < 1 || s < 1) fail(n, name(), "pool and stride must be >= 1");
    if (x.shape[2] < p || x.shape[3] < p)
      fail(n, name(), "window " + std::to_string(p) + "x" + std::to_string(p) + " is larger than " + g.describe(x.id));
    return {Shape{x.shape[0], x.shape[1], (x.shape[2] - p) / s + 1, (x.shape[3] - p) / s + 1}, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    return {needs[0] ? max_pool2d_backward(g, dy, n.inputs[0], n, "grad/" + n.name + "/x") : kNoNode};
  }
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    return double(g.node(n.inputs[0]).shape.numel(batch));
  }
};

class MaxPool2dBackwardOp final : public Op {
 public:
  const char* name() const override { return "max_pool2d_backward"; }
  OpId id() const override { return id::max_pool2d_backward; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    const Node& dy = detail::input(g, n, name(), 0, 4, "gradient dy");
    const Node& x = detail::input(g, n, name(), 1, 4, "input x");
    const int64_t p = n.attrs.i("pool"), s = n.attrs.i("stride");
    // As the forward's: x may be any tensor whose pooling dy matches, and with
    // a window larger than x, (H - pool) / stride + 1 truncates to a match.
    if (p < 1 || s < 1) fail(n, name(), "pool and stride must be >= 1");
    if (x.shape[2] < p || x.shape[3] < p)
      fail(n, name(), "window " + std::to_string(p) + "x" + std::to_string(p) + " is larger than " + g.describe(x.id));
    Shape expect{x.shape[0], x.shape[1], (x.shape[2] - p) / s + 1, (x.shape[3] - p) / s + 1};
    if (dy.shape != expect) fail(n, name(), "gradient " + g.describe(dy.id) + " does not match pooling " + g.describe(x.id));
    return {x.shape, DType::f32};
  }
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    return double(g.node(n.inputs[1]).shape.numel(batch));
  }
};

const MaxPool2dOp kMaxPool2d;
const MaxPool2dBackwardOp kMaxPool2dBackward;
}  // namespace

NodeId max_pool2d(Graph& g, NodeId x, int pool, int stride, const std::string& name) {
  return g.add(kMaxPool2d, {x}, Attrs{{"pool", int64_t(pool)}, {"stride", int64_t(stride ? stride : pool)}}, name);
}

NodeId max_pool2d_backward(Graph& g, NodeId dy, NodeId x, const Node& pool, const std::string& name) {
  if (pool.op->id() != id::max_pool2d)
    throw GraphError("max_pool2d_backward \"" + detail::node_name(g, "max_pool2d_backward", name) + "\": " +
                     g.describe(pool.id) + " is not a max_pool2d");
  return g.add(kMaxPool2dBackward, {dy, x}, pool.attrs, name);
}

}  // namespace gg::ops
