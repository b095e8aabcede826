// Fused softmax + cross-entropy with integer labels, averaged over the batch.
// Backward: (softmax(logits) - onehot(label)) * dloss / N.
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

void check_logits_labels(const Graph& g, const Node& n, const char* op) {
  const Node& logits = detail::input(g, n, op, 0, 2, "logits");
  const Node& labels = detail::input(g, n, op, 1, 1, "labels", DType::i32);
  if (logits.shape[0] != labels.shape[0])
    fail(n, op, "batch of " + g.describe(logits.id) + " and " + g.describe(labels.id) + " differ");
}

class SoftmaxCrossEntropyOp final : public Op {
 public:
  const char* name() const override { return "softmax_cross_entropy"; }
  OpId id() const override { return id::softmax_cross_entropy; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    check_logits_labels(g, n, name());
    return {Shape{}, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dloss, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    if (needs[1]) fail(n, name(), "labels take no gradient");
    return {needs[0] ? softmax_cross_entropy_backward(g, n.inputs[0], n.inputs[1], dloss, "grad/" + n.name + "/logits")
                     : kNoNode,
            kNoNode};
  }
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    return 4.0 * double(g.node(n.inputs[0]).shape.numel(batch));
  }
};

class SoftmaxCrossEntropyBackwardOp final : public Op {
 public:
  const char* name() const override { return "softmax_cross_entropy_backward"; }
  OpId id() const override { return id::softmax_cross_entropy_backward; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 3, 3);
    check_logits_labels(g, n, name());
    detail::input(g, n, name(), 2, 0, "gradient dloss");
    return {g.node(n.inputs[0]).shape, DType::f32};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override { return 4.0 * double(n.shape.numel(batch)); }
};

class AccuracyOp final : public Op {
 public:
  const char* name() const override { return "accuracy"; }
  OpId id() const override { return id::accuracy; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    check_logits_labels(g, n, name());
    return {Shape{}, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId, const std::vector<bool>&) const override {
    fail(g.node(id), name(), "accuracy is not differentiable");
  }
  // One comparison per score (the arg-max).
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    return double(g.node(n.inputs[0]).shape.numel(batch));
  }
};

const SoftmaxCrossEntropyOp kSoftmaxCrossEntropy;
const SoftmaxCrossEntropyBackwardOp kSoftmaxCrossEntropyBackward;
const AccuracyOp kAccuracy;
}  // namespace

NodeId softmax_cross_entropy(Graph& g, NodeId logits, NodeId labels, const std::string& name) {
  return g.add(kSoftmaxCrossEntropy, {logits, labels}, {}, name);
}
NodeId softmax_cross_entropy_backward(Graph& g, NodeId logits, NodeId labels, NodeId dloss, const std::string& name) {
  return g.add(kSoftmaxCrossEntropyBackward, {logits, labels, dloss}, {}, name);
}
NodeId accuracy(Graph& g, NodeId scores, NodeId labels, const std::string& name) {
  return g.add(kAccuracy, {scores, labels}, {}, name);
}

}  // namespace gg::ops
