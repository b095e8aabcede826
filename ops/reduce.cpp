// Reductions (sum, mean, max over a set of axes, keepdims) and broadcast_to,
// each other's gradients: a sum's gradient is its dy stretched back, a
// broadcast's gradient the sum over the stretched axes.
#include <algorithm>
#include <numeric>

#include "eltwise.h"
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

// The shape of x with the axes reduced: removed, or kept as 1.
Shape reduced_shape(const Shape& x, const std::vector<int64_t>& axes, bool keepdims) {
  std::vector<int64_t> out;
  for (int i = 0; i < x.rank(); ++i) {
    const bool r = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!r) out.push_back(x[i]);
    else if (keepdims) out.push_back(1);
  }
  return Shape(std::move(out));
}

class ReduceOp final : public Op {
 public:
  ReduceOp(const char* name, OpId id) : name_(name), id_(id) {}
  const char* name() const override { return name_; }
  OpId id() const override { return id_; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& x = detail::input(g, n, name(), 0, -1, "input x");
    const auto& axes = n.attrs.ints("axes");
    for (size_t i = 0; i < axes.size(); ++i)
      if (axes[i] < 0 || axes[i] >= x.shape.rank() || (i && axes[i] <= axes[i - 1]))
        fail(n, name(), "axes must be distinct and within the rank of " + g.describe(x.id));
    return {reduced_shape(x.shape, axes, n.attrs.i("keepdims")), DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    if (!needs[0]) return {kNoNode};
    const Node n = g.node(id);
    // Copies: the nodes added below reallocate the graph's node list.
    const Shape xs = g.node(n.inputs[0]).shape;
    const auto& axes = n.attrs.ints("axes");
    const std::string p = "grad/" + n.name + "/x";
    const NodeId dyk = n.attrs.i("keepdims") ? dy : reshape(g, dy, reduced_shape(xs, axes, true), p + "_keepdims");
    if (id_ == id::reduce_sum) return {broadcast_to(g, dyk, xs, p)};
    if (id_ == id::reduce_mean) return {broadcast_to(g, dyk, xs, p, /*mean=*/true)};
    // max: dy shared evenly between the elements equal to the maximum.
    const NodeId yk = n.attrs.i("keepdims") ? id : reshape(g, id, reduced_shape(xs, axes, true), p + "_max");
    const NodeId mask = equal(g, n.inputs[0], yk, p + "_mask");
    const NodeId count = reduce_sum(g, mask, std::vector<int>(axes.begin(), axes.end()), true, p + "_ties");
    return {div(g, mul(g, mask, dyk, p + "_masked"), count, p)};
  }
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    return double(g.node(n.inputs[0]).shape.numel(batch));
  }

 private:
  const char* name_;
  OpId id_;
};

// attrs: shape (may lead with kBatch), mean (divide by the stretch factor).
class BroadcastToOp final : public Op {
 public:
  const char* name() const override { return "broadcast_to"; }
  OpId id() const override { return id::broadcast_to; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& x = detail::input(g, n, name(), 0, -1, "input x");
    const Shape out(n.attrs.ints("shape"));
    const std::string what = std::string(name()) + " \"" + n.name + "\"";
    for (int i = 0; i < out.rank(); ++i)
      if (out[i] <= 0 && !(i == 0 && out[i] == kBatch))
        fail(n, name(), "cannot broadcast " + g.describe(x.id) + " to " + out.str() +
                            ": dimensions must be positive (or a leading N)");
    if (out.rank() < x.shape.rank() || broadcast_shapes(x.shape, out, what) != out)
      fail(n, name(), "cannot broadcast " + g.describe(x.id) + " to " + out.str());
    return {out, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    if (!needs[0]) return {kNoNode};
    const Node n = g.node(id);
    const std::string p = "grad/" + n.name + "/x";
    const NodeId s = sum_to(g, dy, g.node(n.inputs[0]).shape, p);
    if (!n.attrs.i("mean")) return {s};
    // The mean's stretch factor, as a constant: the same at every batch
    // size unless the batch itself was stretched (then refused).
    const Shape xs = g.node(n.inputs[0]).shape;  // a copy, as in ReduceOp::grad
    if (n.shape.has_batch() && !xs.has_batch())
      fail(n, name(), "the gradient of a mean over the batch dimension is not supported");
    return {mul(g, s, scalar(g, float(double(xs.numel()) / double(n.shape.numel())), p + "_factor"), p + "_scaled")};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override {
    return n.attrs.i("mean") ? double(n.shape.numel(batch)) : 0.0;
  }
};

const ReduceOp kSum("reduce_sum", id::reduce_sum), kMean("reduce_mean", id::reduce_mean), kMax("reduce_max", id::reduce_max);
const BroadcastToOp kBroadcastTo;

NodeId reduce(Graph& g, const ReduceOp& op, NodeId x, std::vector<int> axes, bool keepdims, const std::string& name) {
  const int rank = g.node(x).shape.rank();
  std::vector<int64_t> norm;
  if (axes.empty()) {
    norm.resize(static_cast<size_t>(rank));
    std::iota(norm.begin(), norm.end(), 0);
  }
  for (int a : axes) {
    if (a < -rank || a >= rank)
      throw GraphError(std::string(op.name()) + " \"" + detail::node_name(g, op.name(), name) + "\": axis " + std::to_string(a) +
                       " is out of range for " +
                       g.describe(x));
    norm.push_back(a < 0 ? a + rank : a);
  }
  std::sort(norm.begin(), norm.end());
  if (std::adjacent_find(norm.begin(), norm.end()) != norm.end())
    throw GraphError(std::string(op.name()) + " \"" + detail::node_name(g, op.name(), name) + "\": an axis is named twice");
  return g.add(op, {x}, Attrs{{"axes", norm}, {"keepdims", int64_t(keepdims)}}, name);
}
}  // namespace

NodeId reduce_sum(Graph& g, NodeId x, std::vector<int> axes, bool keepdims, const std::string& name) {
  return reduce(g, kSum, x, std::move(axes), keepdims, name);
}
NodeId reduce_mean(Graph& g, NodeId x, std::vector<int> axes, bool keepdims, const std::string& name) {
  return reduce(g, kMean, x, std::move(axes), keepdims, name);
}
NodeId reduce_max(Graph& g, NodeId x, std::vector<int> axes, bool keepdims, const std::string& name) {
  return reduce(g, kMax, x, std::move(axes), keepdims, name);
}

NodeId broadcast_to(Graph& g, NodeId x, Shape shape, const std::string& name, bool mean) {
  return g.add(kBroadcastTo, {x}, Attrs{{"shape", shape.dims()}, {"mean", int64_t(mean)}}, name);
}

NodeId sum_to(Graph& g, NodeId x, const Shape& to, const std::string& name) {
  // Copies: `to` is often a node's shape (a gradient's target), and the
  // reduce_sum below reallocates the graph's node list.
  const Shape shape = to, xs = g.node(x).shape;
  if (xs == shape) return x;
  std::vector<int> axes;
  const int lead = xs.rank() - shape.rank();
  for (int i = 0; i < xs.rank(); ++i)
    if (i < lead || (shape[i - lead] == 1 && xs[i] != 1)) axes.push_back(i);
  if (axes.empty()) return reshape(g, x, shape, name);
  const NodeId s = reduce_sum(g, x, axes, true, name + "_sum");
  return g.node(s).shape == shape ? s : reshape(g, s, shape, name);
}

}  // namespace gg::ops
