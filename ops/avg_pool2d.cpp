// 2-D average pooling and its backward op. The window geometry is stored on
// both nodes in conv_geometry.h's attributes (the pool as a [C,C,pool,pool]
// "window"), so kernels read the padding instead of re-deriving it and the
// backward op needs only dy. Each window divides by its count of real
// (non-padded) elements: PyTorch's avg_pool2d for 'valid', TensorFlow's
// AveragePooling2D (count_include_pad=False) for 'same'.
#include <algorithm>

#include "conv_geometry.h"
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

// The pooling of x as conv_geometry attributes; padding as conv2d's (TensorFlow's 'same').
Attrs pool_attrs(const Shape& x, int64_t pool, int64_t stride, Padding pad, const std::string& name) {
  const auto bad = [&](const std::string& what) { throw GraphError("avg_pool2d \"" + name + "\": " + what); };
  if (x.rank() != 4) bad("input " + x.str() + " must have rank 4 ([N,C,H,W])");
  if (pool < 1 || stride < 1) bad("pool and stride must be >= 1");
  const int64_t h = x[2], w = x[3];
  int64_t oh, ow, pt = 0, pl = 0;
  if (pad == Padding::same) {
    oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride;
    pt = std::max<int64_t>((oh - 1) * stride + pool - h, 0) / 2;  // the odd pixel goes to the end, as TensorFlow
    pl = std::max<int64_t>((ow - 1) * stride + pool - w, 0) / 2;
  } else {
    if (pool > h || pool > w)
      bad("window " + std::to_string(pool) + "x" + std::to_string(pool) + " is larger than the input " + x.str() +
          " with 'valid' padding");
    oh = (h - pool) / stride + 1, ow = (w - pool) / stride + 1;
  }
  return Attrs{{"pool", pool},          {"stride", stride},
               {"pad_top", pt},         {"pad_left", pl},
               {"out_h", oh},           {"out_w", ow},
               {"x_shape", x.dims()},   {"w_shape", std::vector<int64_t>{x[1], x[1], pool, pool}},
               {"padding", std::string(pad == Padding::same ? "same" : "valid")}};
}

class AvgPool2dOp final : public Op {
 public:
  const char* name() const override { return "avg_pool2d"; }
  OpId id() const override { return id::avg_pool2d; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& x = detail::input(g, n, name(), 0, 4, "input x");
    const ConvGeometry c = conv_geometry(n.attrs);
    // The batch is no part of the geometry (the backward op's vjp pools any batch).
    if (x.shape[1] != c.c || x.shape[2] != c.h || x.shape[3] != c.w)
      fail(n, name(), "attributes were computed for another shape than " + g.describe(x.id));
    return {Shape{x.shape[0], x.shape[1], c.oh, c.ow}, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    return {needs[0] ? avg_pool2d_backward(g, dy, n, "grad/" + n.name + "/x") : kNoNode};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override {
    // A sum over each window and one division per output.
    const ConvGeometry c = conv_geometry(n.attrs);
    return double(n.shape.numel(batch)) * double(c.kh * c.kw);
  }
};

// dx: each window's dy / count spread over the window's real elements.
class AvgPool2dBackwardOp final : public Op {
 public:
  const char* name() const override { return "avg_pool2d_backward"; }
  OpId id() const override { return id::avg_pool2d_backward; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& dy = detail::input(g, n, name(), 0, 4, "gradient dy");
    const ConvGeometry c = conv_geometry(n.attrs);
    if (dy.shape[1] != c.c || dy.shape[2] != c.oh || dy.shape[3] != c.ow)
      fail(n, name(), "gradient " + g.describe(dy.id) + " does not match the pooling's output [N," + std::to_string(c.c) +
                          "," + std::to_string(c.oh) + "," + std::to_string(c.ow) + "]");
    return {Shape{dy.shape[0], c.c, c.h, c.w}, DType::f32};
  }
  // Linear in dy: its vjp is the forward pooling with the same geometry.
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId ddx, const std::vector<bool>& needs) const override;
  double flops(const Graph&, const Node& n, int64_t batch) const override {
    const ConvGeometry c = conv_geometry(n.attrs);
    return double(n.shape.numel(batch) / std::max<int64_t>(c.h * c.w, 1)) * double(c.oh * c.ow * c.kh * c.kw);
  }
};

const AvgPool2dOp kAvgPool2d;
const AvgPool2dBackwardOp kAvgPool2dBackward;

std::vector<NodeId> AvgPool2dBackwardOp::grad(Graph& g, NodeId id, NodeId ddx, const std::vector<bool>& needs) const {
  if (!needs[0]) return {kNoNode};
  const Node n = g.node(id);
  Attrs a = n.attrs;
  return {g.add(kAvgPool2d, {ddx}, std::move(a), "grad/" + n.name + "/dy")};
}
}  // namespace

NodeId avg_pool2d(Graph& g, NodeId x, int pool, int stride, Padding pad, const std::string& name) {
  return g.add(kAvgPool2d, {x},
               pool_attrs(g.node(x).shape, pool, stride ? stride : pool, pad, detail::node_name(g, "avg_pool2d", name)), name);
}

NodeId avg_pool2d_backward(Graph& g, NodeId dy, const Node& pool, const std::string& name) {
  // Its attributes are the forward node's: that must be an avg_pool2d.
  if (pool.op->id() != id::avg_pool2d)
    throw GraphError("avg_pool2d_backward \"" + detail::node_name(g, "avg_pool2d_backward", name) + "\": " +
                     g.describe(pool.id) + " is not an avg_pool2d");
  return g.add(kAvgPool2dBackward, {dy}, pool.attrs, name);
}

NodeId global_avg_pool2d(Graph& g, NodeId x, const std::string& name) {
  if (g.node(x).shape.rank() != 4)
    throw GraphError("global_avg_pool2d \"" + detail::node_name(g, "reduce_mean", name) + "\": input " + g.describe(x) +
                     " must have rank 4 ([N,C,H,W])");
  return reduce_mean(g, x, {2, 3}, false, name);
}

}  // namespace gg::ops
