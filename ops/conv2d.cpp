// conv2d and its backward-only ops. Forward: y = W * x + b (cross-correlation,
// NCHW, OIHW weights). Backward: dx by conv2d_backward_input (transposed
// convolution), dW by conv2d_backward_weight, db by bias_grad.
#include <algorithm>

#include "conv_geometry.h"
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

// Stored on every conv-family node so kernels never re-derive padding.
Attrs conv_attrs(const Shape& x, const Shape& w, int64_t stride, Padding pad, const Node& n) {
  const int64_t h = x[2], wd = x[3], kh = w[2], kw = w[3];
  if (stride < 1) fail(n, "conv2d", "stride must be >= 1, got " + std::to_string(stride));
  int64_t oh, ow, pt = 0, pl = 0;
  if (pad == Padding::same) {
    oh = (h + stride - 1) / stride, ow = (wd + stride - 1) / stride;
    pt = std::max<int64_t>((oh - 1) * stride + kh - h, 0) / 2;  // TensorFlow puts the odd pixel at the end
    pl = std::max<int64_t>((ow - 1) * stride + kw - wd, 0) / 2;
  } else {
    if (kh > h || kw > wd)
      fail(n, "conv2d", "kernel " + w.str() + " is larger than the input " + x.str() + " with 'valid' padding");
    oh = (h - kh) / stride + 1, ow = (wd - kw) / stride + 1;
  }
  return Attrs{{"stride", stride},       {"pad_top", pt},         {"pad_left", pl},
               {"out_h", oh},            {"out_w", ow},           {"x_shape", x.dims()},
               {"w_shape", w.dims()},    {"padding", std::string(pad == Padding::same ? "same" : "valid")}};
}

double conv_flops(const Attrs& a, int64_t batch) {
  ConvGeometry c = conv_geometry(a);
  return 2.0 * double(batch) * double(c.oc) * double(c.col_rows()) * double(c.out_pixels());
}

class Conv2dOp final : public Op {
 public:
  const char* name() const override { return "conv2d"; }
  OpId id() const override { return id::conv2d; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 3);
    const Node& x = detail::input(g, n, name(), 0, 4, "input x");
    const Node& w = detail::input(g, n, name(), 1, 4, "weight w");
    if (x.shape[1] != w.shape[1])
      fail(n, name(), "input channels differ: " + g.describe(x.id) + " has " + std::to_string(x.shape[1]) +
                          ", weight " + g.describe(w.id) + " expects " + std::to_string(w.shape[1]));
    if (n.inputs.size() == 3) {
      const Node& b = detail::input(g, n, name(), 2, 1, "bias b");
      if (b.shape[0] != w.shape[0]) fail(n, name(), "bias " + g.describe(b.id) + " does not match weight " + g.describe(w.id));
    }
    ConvGeometry c = conv_geometry(n.attrs);
    if (Shape(n.attrs.ints("x_shape")) != x.shape || Shape(n.attrs.ints("w_shape")) != w.shape)
      fail(n, name(), "attributes were computed for other shapes than " + x.shape.str() + " and " + w.shape.str());
    return {Shape{x.shape[0], c.oc, c.oh, c.ow}, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    std::vector<NodeId> out(n.inputs.size(), kNoNode);
    if (needs[0]) out[0] = conv2d_backward_input(g, dy, n.inputs[1], n, "grad/" + n.name + "/x");
    if (needs[1]) out[1] = conv2d_backward_weight(g, dy, n.inputs[0], n, "grad/" + n.name + "/w");
    if (n.inputs.size() == 3 && needs[2]) out[2] = bias_grad(g, dy, "grad/" + n.name + "/b");
    return out;
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override { return conv_flops(n.attrs, batch); }
};

class Conv2dBackwardInputOp final : public Op {
 public:
  const char* name() const override { return "conv2d_backward_input"; }
  OpId id() const override { return id::conv2d_backward_input; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    const Node& dy = detail::input(g, n, name(), 0, 4, "gradient dy");
    const Node& w = detail::input(g, n, name(), 1, 4, "weight w");
    ConvGeometry c = conv_geometry(n.attrs);
    if (dy.shape[1] != c.oc || dy.shape[2] != c.oh || dy.shape[3] != c.ow)
      fail(n, name(), "gradient " + g.describe(dy.id) + " does not match the convolution's output");
    // The kernels size w from the attributes.
    if (Shape(n.attrs.ints("w_shape")) != w.shape)
      fail(n, name(), "weight " + g.describe(w.id) + " is not the convolution's " + Shape(n.attrs.ints("w_shape")).str());
    Shape x(n.attrs.ints("x_shape"));
    return {Shape{dy.shape[0], x[1], x[2], x[3]}, DType::f32};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override { return conv_flops(n.attrs, batch); }
};

class Conv2dBackwardWeightOp final : public Op {
 public:
  const char* name() const override { return "conv2d_backward_weight"; }
  OpId id() const override { return id::conv2d_backward_weight; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    const Node& dy = detail::input(g, n, name(), 0, 4, "gradient dy");
    const Node& x = detail::input(g, n, name(), 1, 4, "input x");
    ConvGeometry c = conv_geometry(n.attrs);
    if (dy.shape[1] != c.oc || dy.shape[2] != c.oh || dy.shape[3] != c.ow || dy.shape[0] != x.shape[0])
      fail(n, name(), "gradient " + g.describe(dy.id) + " does not match the convolution of " + g.describe(x.id));
    // The kernels size x from the attributes (its batch from the run).
    const Shape xs(n.attrs.ints("x_shape"));
    if (xs.rank() != 4 || x.shape[1] != xs[1] || x.shape[2] != xs[2] || x.shape[3] != xs[3])
      fail(n, name(), "input " + g.describe(x.id) + " is not the convolution's " + xs.str());
    return {Shape(n.attrs.ints("w_shape")), DType::f32};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override { return conv_flops(n.attrs, batch); }
};

class BiasGradOp final : public Op {
 public:
  const char* name() const override { return "bias_grad"; }
  OpId id() const override { return id::bias_grad; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& dy = detail::input(g, n, name(), 0, -1, "gradient dy");
    if (dy.shape.rank() < 2) fail(n, name(), "gradient " + g.describe(dy.id) + " needs rank >= 2 ([N,C,...])");
    return {Shape{dy.shape[1]}, DType::f32};
  }
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    return double(g.node(n.inputs[0]).shape.numel(batch));
  }
};

const Conv2dOp kConv2d;
const Conv2dBackwardInputOp kConv2dBackwardInput;
const Conv2dBackwardWeightOp kConv2dBackwardWeight;
const BiasGradOp kBiasGrad;
}  // namespace

NodeId conv2d(Graph& g, NodeId x, NodeId w, NodeId b, int stride, Padding pad, const std::string& name) {
  const Node& xn = g.node(x);
  const Node& wn = g.node(w);
  Node probe{kNoNode, &kConv2d, {}, {}, {}, DType::f32, detail::node_name(g, "conv2d", name)};
  if (xn.shape.rank() != 4) fail(probe, "conv2d", "input x " + g.describe(x) + " must have rank 4 [N,C,H,W]");
  if (wn.shape.rank() != 4) fail(probe, "conv2d", "weight w " + g.describe(w) + " must have rank 4 [OC,C,KH,KW]");
  Attrs a = conv_attrs(xn.shape, wn.shape, stride, pad, probe);
  std::vector<NodeId> in{x, w};
  if (b != kNoNode) in.push_back(b);
  return g.add(kConv2d, std::move(in), std::move(a), name);
}

// The backward ops take the forward node's attributes: it must be a conv2d.
static void expect_conv(const Graph& g, const Node& conv, const char* op, const std::string& name) {
  if (conv.op->id() != id::conv2d)
    throw GraphError(std::string(op) + " \"" + detail::node_name(g, op, name) + "\": " + g.describe(conv.id) + " is not a conv2d");
}

NodeId conv2d_backward_input(Graph& g, NodeId dy, NodeId w, const Node& conv, const std::string& name) {
  expect_conv(g, conv, "conv2d_backward_input", name);
  return g.add(kConv2dBackwardInput, {dy, w}, conv.attrs, name);
}

NodeId conv2d_backward_weight(Graph& g, NodeId dy, NodeId x, const Node& conv, const std::string& name) {
  expect_conv(g, conv, "conv2d_backward_weight", name);
  return g.add(kConv2dBackwardWeight, {dy, x}, conv.attrs, name);
}

NodeId bias_grad(Graph& g, NodeId dy, const std::string& name) { return g.add(kBiasGrad, {dy}, {}, name); }

}  // namespace gg::ops
