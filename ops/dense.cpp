// dense (x . W + b, Keras's [in,out] weight layout) and matmul (batched,
// broadcasting), the op dense's gradients are written in.
#include <algorithm>

#include "eltwise.h"
#include "matmul_geometry.h"
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

// torch.matmul for rank >= 2: the last two axes are the matrices, the leading
// ones a batch broadcast as NumPy does (matmul_geometry.h lays it out).
class MatMulOp final : public Op {
 public:
  const char* name() const override { return "matmul"; }
  OpId id() const override { return id::matmul; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    const Node& a = detail::input(g, n, name(), 0, -1, "input a");
    const Node& b = detail::input(g, n, name(), 1, -1, "input b");
    const int ra = a.shape.rank(), rb = b.shape.rank();
    if (ra < 2 || rb < 2)
      fail(n, name(), "operands need rank >= 2 ([...,rows,columns]), got " + g.describe(a.id) + " and " + g.describe(b.id));
    if (std::max(ra, rb) - 2 > kMatmulMaxBatchDims)
      fail(n, name(), "more than " + std::to_string(kMatmulMaxBatchDims) + " batch dimensions");
    const bool ta = n.attrs.i("trans_a"), tb = n.attrs.i("trans_b");
    const int64_t m = a.shape[ta ? ra - 1 : ra - 2], ka = a.shape[ta ? ra - 2 : ra - 1];
    const int64_t kb = b.shape[tb ? rb - 1 : rb - 2], nn = b.shape[tb ? rb - 2 : rb - 1];
    if (ka != kb) fail(n, name(), "inner dimensions differ: " + g.describe(a.id) + (ta ? "^T" : "") + " and " + g.describe(b.id) + (tb ? "^T" : ""));
    if (nn == kBatch) fail(n, name(), "the batch dimension may only be the rows of the result or the inner dimension");
    if (ra == 2 && rb == 2) return {Shape{m, nn}, DType::f32};
    if (m == kBatch || ka == kBatch)
      fail(n, name(), "in a batched product of " + g.describe(a.id) + " and " + g.describe(b.id) +
                          " the symbolic batch may only lead the batch dimensions");
    const std::vector<int64_t>& ad = a.shape.dims();
    const std::vector<int64_t>& bd = b.shape.dims();
    std::vector<int64_t> out = broadcast_shapes(Shape(std::vector<int64_t>(ad.begin(), ad.end() - 2)),
                                                Shape(std::vector<int64_t>(bd.begin(), bd.end() - 2)),
                                                std::string(name()) + " \"" + n.name + "\" (batch dimensions)")
                                   .dims();
    out.push_back(m);
    out.push_back(nn);
    return {Shape(std::move(out)), DType::f32};
  }
  // C = op(A) op(B); each gradient is again a matmul, transposes chosen per
  // case, summed over the batch dimensions its operand was broadcast along.
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dc, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    const bool ta = n.attrs.i("trans_a"), tb = n.attrs.i("trans_b");
    const NodeId a = n.inputs[0], b = n.inputs[1];
    NodeId da = kNoNode, db = kNoNode;
    const std::string p = "grad/" + n.name;
    // The product over the output's batch, then summed to the operand's shape
    // where that was broadcast (2-D: no sum, exactly the graph of old).
    const auto reduced = [&](NodeId operand, const std::string& nm, auto product) {
      const Shape want = g.node(operand).shape;
      bool same = want.rank() == n.shape.rank();
      for (int i = 0; same && i < want.rank() - 2; ++i) same = want[i] == n.shape[i];
      return same ? product(nm) : sum_to(g, product(nm + "_batched"), want, nm);
    };
    if (needs[0])
      da = reduced(a, p + "/a", [&](const std::string& nm) {
        return ta ? matmul(g, b, dc, tb, true, nm) : matmul(g, dc, b, false, !tb, nm);
      });
    if (needs[1])
      db = reduced(b, p + "/b", [&](const std::string& nm) {
        return tb ? matmul(g, dc, a, true, ta, nm) : matmul(g, a, dc, !ta, false, nm);
      });
    return {da, db};
  }
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    const Shape& a = g.node(n.inputs[0]).shape;
    const int64_t k = a[n.attrs.i("trans_a") ? a.rank() - 2 : a.rank() - 1];
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
