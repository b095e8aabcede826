// Batch normalization with Keras's semantics: training mode normalizes by
// the batch's own per-channel mean and biased variance (every axis but 1),
// inference mode by given (moving) statistics, and an update node moves the
// moving statistics toward the batch's. The training gradient is two fused
// ops: batch_norm_backward_reduce (one pass over dy and x: the per-channel
// sums and the batch statistics, recomputed rather than kept from the
// forward, so the forward stays one node with one output) and
// batch_norm_backward (one pass: dx).
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

// x: f32, rank >= 2, channels on axis 1.
const Node& check_x(const Graph& g, const Node& n, const char* op, size_t i, const char* role) {
  const Node& x = detail::input(g, n, op, i, -1, role);
  if (x.shape.rank() < 2)
    fail(n, op, std::string(role) + " " + g.describe(x.id) + " must have rank >= 2 (channels on axis 1)");
  return x;
}

// A per-channel operand: f32 [C], C = x's axis 1.
void check_channels(const Graph& g, const Node& n, const char* op, const Node& x, size_t i, const char* role) {
  const Node& v = detail::input(g, n, op, i, 1, role);
  if (v.shape[0] != x.shape[1])
    fail(n, op, std::string(role) + " " + g.describe(v.id) + " must have shape [" + std::to_string(x.shape[1]) +
                    "], the channels of " + g.describe(x.id));
}

void check_epsilon(const Node& n, const char* op) {
  const double eps = n.attrs.f("epsilon");
  if (!(eps >= 0.0 && eps < 1e30)) fail(n, op, "epsilon must be finite and >= 0, got " + std::to_string(eps));
}

// Per-element work of the training forward: the statistics pass (shift,
// add, square-add) and the normalization (subtract, multiply-add).
constexpr double kStatsFlops = 3.0, kApplyFlops = 3.0;

// Row r of the [4,C] reduction as a [C] node.
NodeId row(Graph& g, NodeId reduced, int64_t r, int64_t channels, const std::string& name) {
  const NodeId s = slice(g, reduced, std::vector<SliceSpec>{{.axis = 0, .start = r, .stop = r + 1, .step = 1}},
                         name + "/row");
  return reshape(g, s, Shape{channels}, name);
}

// inputs: x [N,C,...], gamma [C], beta [C]; attrs: epsilon
class BatchNormOp final : public Op {
 public:
  const char* name() const override { return "batch_norm"; }
  OpId id() const override { return id::batch_norm; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 3, 3);
    const Node& x = check_x(g, n, name(), 0, "input x");
    check_channels(g, n, name(), x, 1, "gamma");
    check_channels(g, n, name(), x, 2, "beta");
    check_epsilon(n, name());
    return {x.shape, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    const double eps = n.attrs.f("epsilon");
    const int64_t c = g.node(n.inputs[0]).shape[1];
    const std::string p = "grad/" + n.name;
    const NodeId red = batch_norm_backward_reduce(g, dy, n.inputs[0], kNoNode, kNoNode, eps, p + "/reduce");
    return {needs[0] ? batch_norm_backward(g, dy, n.inputs[0], n.inputs[1], red, eps, p + "/x") : kNoNode,
            needs[1] ? row(g, red, 0, c, p + "/gamma") : kNoNode, needs[2] ? row(g, red, 1, c, p + "/beta") : kNoNode};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override {
    return (kStatsFlops + kApplyFlops) * double(n.shape.numel(batch));
  }
};

// inputs: x [N,C,...], gamma, beta, mean, variance (all [C]); attrs: epsilon
class BatchNormInferenceOp final : public Op {
 public:
  const char* name() const override { return "batch_norm_inference"; }
  OpId id() const override { return id::batch_norm_inference; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 5, 5);
    const Node& x = check_x(g, n, name(), 0, "input x");
    const char* roles[] = {"gamma", "beta", "mean", "variance"};
    for (size_t i = 1; i < 5; ++i) check_channels(g, n, name(), x, i, roles[i - 1]);
    check_epsilon(n, name());
    return {x.shape, DType::f32};
  }
  // dx = dy * gamma / sqrt(var + eps) (a per-channel scale: element-wise ops);
  // dgamma and dbeta from batch_norm_backward_reduce with the given statistics.
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    if (needs[3] || needs[4])
      fail(n, name(), "the mean and variance are statistics (moving states), not differentiated; " +
                          g.describe(needs[3] ? n.inputs[3] : n.inputs[4]) + " depends on a value a gradient is asked for");
    const double eps = n.attrs.f("epsilon");
    const Shape xs = g.node(n.inputs[0]).shape;  // a copy: adding nodes moves the node storage
    const int64_t c = xs[1];
    const std::string p = "grad/" + n.name;
    std::vector<NodeId> out(5, kNoNode);
    if (needs[0]) {
      const NodeId std_dev = sqrt(g, add(g, n.inputs[4], scalar(g, float(eps), p + "/epsilon"), p + "/var+eps"), p + "/std");
      const NodeId scale = div(g, n.inputs[1], std_dev, p + "/scale");
      std::vector<int64_t> dims(static_cast<size_t>(xs.rank() - 1), 1);
      dims[0] = c;  // [C,1,...,1]: broadcasts along axis 1 of x
      out[0] = mul(g, dy, reshape(g, scale, Shape(dims), p + "/scale_c"), p + "/x");
    }
    if (needs[1] || needs[2]) {
      const NodeId red = batch_norm_backward_reduce(g, dy, n.inputs[0], n.inputs[3], n.inputs[4], eps, p + "/reduce");
      if (needs[1]) out[1] = row(g, red, 0, c, p + "/gamma");
      if (needs[2]) out[2] = row(g, red, 1, c, p + "/beta");
    }
    return out;
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override {
    return kApplyFlops * double(n.shape.numel(batch));
  }
};

// inputs: dy, x [N,C,...], and optionally mean, variance [C] (the inference
// mode's); attrs: epsilon. Output [4,C]: sum(dy * xhat) (= dgamma),
// sum(dy) (= dbeta), the mean and the biased variance used (the batch's, or
// the given ones).
class BatchNormBackwardReduceOp final : public Op {
 public:
  const char* name() const override { return "batch_norm_backward_reduce"; }
  OpId id() const override { return id::batch_norm_backward_reduce; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    if (n.inputs.size() != 2 && n.inputs.size() != 4) fail(n, name(), "takes 2 or 4 inputs, got " + std::to_string(n.inputs.size()));
    const Node& dy = check_x(g, n, name(), 0, "gradient dy");
    const Node& x = check_x(g, n, name(), 1, "input x");
    if (dy.shape != x.shape) fail(n, name(), "gradient " + g.describe(dy.id) + " does not match " + g.describe(x.id));
    if (n.inputs.size() == 4) {
      check_channels(g, n, name(), x, 2, "mean");
      check_channels(g, n, name(), x, 3, "variance");
    }
    check_epsilon(n, name());
    return {Shape{4, x.shape[1]}, DType::f32};
  }
  // Shift, add, square-add; add; multiply-add.
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    return 6.0 * double(g.node(n.inputs[1]).shape.numel(batch));
  }
};

// inputs: dy, x [N,C,...], gamma [C], the reduction [4,C]; attrs: epsilon.
// dx = gamma / std * (dy - dbeta / M - xhat * dgamma / M), M = N * H * W.
class BatchNormBackwardOp final : public Op {
 public:
  const char* name() const override { return "batch_norm_backward"; }
  OpId id() const override { return id::batch_norm_backward; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 4, 4);
    const Node& dy = check_x(g, n, name(), 0, "gradient dy");
    const Node& x = check_x(g, n, name(), 1, "input x");
    if (dy.shape != x.shape) fail(n, name(), "gradient " + g.describe(dy.id) + " does not match " + g.describe(x.id));
    check_channels(g, n, name(), x, 2, "gamma");
    const Node& red = detail::input(g, n, name(), 3, 2, "reduction");
    if (red.shape != Shape{4, x.shape[1]})
      fail(n, name(), "reduction " + g.describe(red.id) + " must have shape [4," + std::to_string(x.shape[1]) + "]");
    check_epsilon(n, name());
    return {x.shape, DType::f32};
  }
  // Subtract, multiply twice (xhat and its term), subtract twice, scale.
  double flops(const Graph&, const Node& n, int64_t batch) const override { return 6.0 * double(n.shape.numel(batch)); }
};

// inputs: x [N,C,...], moving_mean, moving_variance (states [C]); attrs: momentum.
class BatchNormMovingUpdateOp final : public Op {
 public:
  const char* name() const override { return "batch_norm_moving_update"; }
  OpId id() const override { return id::batch_norm_moving_update; }
  std::vector<int> mutated_inputs() const override { return {1, 2}; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 3, 3);
    const Node& x = check_x(g, n, name(), 0, "input x");
    const char* roles[] = {"moving_mean", "moving_variance"};
    for (size_t i = 1; i < 3; ++i) {
      check_channels(g, n, name(), x, i, roles[i - 1]);
      if (g.node(n.inputs[i]).op->role() != OpRole::state)
        fail(n, name(), std::string(roles[i - 1]) + " " + g.describe(n.inputs[i]) + " must be a state (Graph::state)");
    }
    const double m = n.attrs.f("momentum");
    if (!(m >= 0.0 && m <= 1.0)) fail(n, name(), "momentum must be in [0, 1], got " + std::to_string(m));
    return {Shape{}, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId, const std::vector<bool>&) const override {
    fail(g.node(id), name(), "an update takes no gradient");
  }
  // The statistics pass, then 4 per channel for the two moving averages.
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    const Shape& xs = g.node(n.inputs[0]).shape;
    return kStatsFlops * double(xs.numel(batch)) + 4.0 * double(xs[1]);
  }
};

const BatchNormOp kBatchNorm;
const BatchNormInferenceOp kBatchNormInference;
const BatchNormBackwardReduceOp kBatchNormBackwardReduce;
const BatchNormBackwardOp kBatchNormBackward;
const BatchNormMovingUpdateOp kBatchNormMovingUpdate;
}  // namespace

NodeId batch_norm(Graph& g, NodeId x, NodeId gamma, NodeId beta, double epsilon, const std::string& name) {
  return g.add(kBatchNorm, {x, gamma, beta}, Attrs{{"epsilon", epsilon}}, name);
}
NodeId batch_norm_inference(Graph& g, NodeId x, NodeId gamma, NodeId beta, NodeId mean, NodeId variance, double epsilon,
                            const std::string& name) {
  return g.add(kBatchNormInference, {x, gamma, beta, mean, variance}, Attrs{{"epsilon", epsilon}}, name);
}
NodeId batch_norm_moving_update(Graph& g, NodeId x, NodeId moving_mean, NodeId moving_variance, double momentum,
                                const std::string& name) {
  return g.add(kBatchNormMovingUpdate, {x, moving_mean, moving_variance}, Attrs{{"momentum", momentum}}, name);
}
NodeId batch_norm_backward_reduce(Graph& g, NodeId dy, NodeId x, NodeId mean, NodeId variance, double epsilon,
                                  const std::string& name) {
  if ((mean == kNoNode) != (variance == kNoNode))
    throw GraphError("batch_norm_backward_reduce \"" + detail::node_name(g, "batch_norm_backward_reduce", name) +
                     "\": give both the mean and the variance, or neither");
  std::vector<NodeId> in{dy, x};
  if (mean != kNoNode) in.insert(in.end(), {mean, variance});
  return g.add(kBatchNormBackwardReduce, std::move(in), Attrs{{"epsilon", epsilon}}, name);
}
NodeId batch_norm_backward(Graph& g, NodeId dy, NodeId x, NodeId gamma, NodeId reduced, double epsilon,
                           const std::string& name) {
  return g.add(kBatchNormBackward, {dy, x, gamma, reduced}, Attrs{{"epsilon", epsilon}}, name);
}

}  // namespace gg::ops
