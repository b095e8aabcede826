// dense (x . W + b, Keras's [in,out] weight layout) and matmul, the op its
// gradients are written in.
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

class DenseOp final : public Op {
 public:
  const char* name() const override { return "dense"; }
  OpId id() const override { return id::dense; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 3);
    const Node& x = detail::input(g, n, name(), 0, 2, "input x");
    const Node& w = detail::input(g, n, name(), 1, 2, "weight w");
    if (x.shape[1] != w.shape[0])
      fail(n, name(), "input features differ: " + g.describe(x.id) + " has " + std::to_string(x.shape[1]) + ", weight " +
                          g.describe(w.id) + " expects " + std::to_string(w.shape[0]));
    if (n.inputs.size() == 3) {
      const Node& b = detail::input(g, n, name(), 2, 1, "bias b");
      if (b.shape[0] != w.shape[1]) fail(n, name(), "bias " + g.describe(b.id) + " does not match weight " + g.describe(w.id));
    }
    return {Shape{x.shape[0], w.shape[1]}, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    std::vector<NodeId> out(n.inputs.size(), kNoNode);
    if (needs[0]) out[0] = matmul(g, dy, n.inputs[1], false, true, "grad/" + n.name + "/x");
    if (needs[1]) out[1] = matmul(g, n.inputs[0], dy, true, false, "grad/" + n.name + "/w");
    if (n.inputs.size() == 3 && needs[2]) out[2] = bias_grad(g, dy, "grad/" + n.name + "/b");
    return out;
  }
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    const Shape& w = g.node(n.inputs[1]).shape;
    return 2.0 * double(batch) * double(w[0]) * double(w[1]);
  }
};

class MatMulOp final : public Op {
 public:
  const char* name() const override { return "matmul"; }
  OpId id() const override { return id::matmul; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    const Node& a = detail::input(g, n, name(), 0, 2, "input a");
    const Node& b = detail::input(g, n, name(), 1, 2, "input b");
    const bool ta = n.attrs.i("trans_a"), tb = n.attrs.i("trans_b");
    const int64_t m = a.shape[ta ? 1 : 0], ka = a.shape[ta ? 0 : 1];
    const int64_t kb = b.shape[tb ? 1 : 0], nn = b.shape[tb ? 0 : 1];
    if (ka != kb) fail(n, name(), "inner dimensions differ: " + g.describe(a.id) + (ta ? "^T" : "") + " and " + g.describe(b.id) + (tb ? "^T" : ""));
    if (nn == kBatch) fail(n, name(), "the batch dimension may only be the rows of the result or the inner dimension");
    return {Shape{m, nn}, DType::f32};
  }
  // C = op(A) op(B); each gradient is again a matmul, transposes chosen per case.
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dc, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    const bool ta = n.attrs.i("trans_a"), tb = n.attrs.i("trans_b");
    const NodeId a = n.inputs[0], b = n.inputs[1];
    NodeId da = kNoNode, db = kNoNode;
    const std::string p = "grad/" + n.name;
    if (needs[0]) da = ta ? matmul(g, b, dc, tb, true, p + "/a") : matmul(g, dc, b, false, !tb, p + "/a");
    if (needs[1]) db = tb ? matmul(g, dc, a, true, ta, p + "/b") : matmul(g, a, dc, !ta, false, p + "/b");
    return {da, db};
  }
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    const Node& a = g.node(n.inputs[0]);
    const int64_t k = a.shape[n.attrs.i("trans_a") ? 0 : 1];
    return 2.0 * double(n.shape.numel(batch)) * double(k == kBatch ? batch : k);
  }
};

const DenseOp kDense;
const MatMulOp kMatMul;
}  // namespace

NodeId dense(Graph& g, NodeId x, NodeId w, NodeId b, const std::string& name) {
  std::vector<NodeId> in{x, w};
  if (b != kNoNode) in.push_back(b);
  return g.add(kDense, std::move(in), {}, name);
}

NodeId matmul(Graph& g, NodeId a, NodeId b, bool trans_a, bool trans_b, const std::string& name) {
  return g.add(kMatMul, {a, b}, Attrs{{"trans_a", int64_t(trans_a)}, {"trans_b", int64_t(trans_b)}}, name);
}

}  // namespace gg::ops
