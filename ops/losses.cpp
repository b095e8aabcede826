// The losses with a mean reduction: softmax cross-entropy with probability
// targets, binary cross-entropy with logits, negative log-likelihood, and mse
// (a composite). Each fused loss has one backward op; where both inputs take
// gradients its `wrt` attribute picks which one it computes. The mean divides
// by the run-time batch (or element count), so the backward ops read it from
// the resolved shapes in their kernels rather than from a constant.
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

// logits and targets: both f32, one shape; `rank` 2 for the [N,C] losses, -1 for any.
void check_pair(const Graph& g, const Node& n, const char* op, int rank, const char* second) {
  const Node& x = detail::input(g, n, op, 0, rank, "logits");
  const Node& t = detail::input(g, n, op, 1, rank, second);
  if (x.shape != t.shape) fail(n, op, "shapes of " + g.describe(x.id) + " and " + g.describe(t.id) + " differ");
}

void check_dloss(const Graph& g, const Node& n, const char* op) { detail::input(g, n, op, 2, 0, "gradient dloss"); }

int64_t checked_wrt(const Node& n, const char* op) {
  const int64_t wrt = n.attrs.i("wrt");
  if (wrt != 0 && wrt != 1) fail(n, op, "wrt must be 0 (logits) or 1 (targets), got " + std::to_string(wrt));
  return wrt;
}

// A loss of two f32 inputs [N,C] (soft cross-entropy) or of any one shape (bce).
class PairLossOp final : public Op {
 public:
  using Backward = NodeId (*)(Graph&, NodeId, NodeId, NodeId, int, const std::string&);
  PairLossOp(const char* name, OpId id, int rank, Backward backward, double flops_per_element)
      : name_(name), id_(id), rank_(rank), backward_(backward), per_element_(flops_per_element) {}
  const char* name() const override { return name_; }
  OpId id() const override { return id_; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    check_pair(g, n, name(), rank_, "targets");
    return {Shape{}, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dloss, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    std::vector<NodeId> out(2, kNoNode);
    const char* role[2] = {"/logits", "/targets"};
    for (int i = 0; i < 2; ++i)
      if (needs[size_t(i)]) out[size_t(i)] = backward_(g, n.inputs[0], n.inputs[1], dloss, i, "grad/" + n.name + role[i]);
    return out;
  }
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    return per_element_ * double(g.node(n.inputs[0]).shape.numel(batch));
  }

 private:
  const char* name_;
  OpId id_;
  int rank_;
  Backward backward_;
  double per_element_;
};

class PairLossBackwardOp final : public Op {
 public:
  PairLossBackwardOp(const char* name, OpId id, int rank, double flops_per_element)
      : name_(name), id_(id), rank_(rank), per_element_(flops_per_element) {}
  const char* name() const override { return name_; }
  OpId id() const override { return id_; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 3, 3);
    check_pair(g, n, name(), rank_, "targets");
    check_dloss(g, n, name());
    checked_wrt(n, name());
    return {g.node(n.inputs[0]).shape, DType::f32};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override {
    return per_element_ * double(n.shape.numel(batch));
  }

 private:
  const char* name_;
  OpId id_;
  int rank_;
  double per_element_;
};

void check_nll(const Graph& g, const Node& n, const char* op) {
  const Node& lp = detail::input(g, n, op, 0, 2, "log_probs");
  const Node& labels = detail::input(g, n, op, 1, 1, "labels", DType::i32);
  if (lp.shape[0] != labels.shape[0])
    fail(n, op, "batch of " + g.describe(lp.id) + " and " + g.describe(labels.id) + " differ");
}

class NllLossOp final : public Op {
 public:
  const char* name() const override { return "nll_loss"; }
  OpId id() const override { return id::nll_loss; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 2, 2);
    check_nll(g, n, name());
    return {Shape{}, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dloss, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    if (needs[1]) fail(n, name(), "labels take no gradient");
    return {needs[0] ? nll_loss_backward(g, n.inputs[0], n.inputs[1], dloss, "grad/" + n.name + "/log_probs") : kNoNode,
            kNoNode};
  }
  // One pick and add per row.
  double flops(const Graph& g, const Node& n, int64_t batch) const override {
    return double(g.node(n.inputs[0]).shape.resolved(batch)[0]);
  }
};

class NllLossBackwardOp final : public Op {
 public:
  const char* name() const override { return "nll_loss_backward"; }
  OpId id() const override { return id::nll_loss_backward; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 3, 3);
    check_nll(g, n, name());
    check_dloss(g, n, name());
    return {g.node(n.inputs[0]).shape, DType::f32};
  }
  // A fill and one write per row: data movement.
  double flops(const Graph&, const Node&, int64_t) const override { return 0.0; }
};

const PairLossOp kSoftXent("softmax_cross_entropy_soft", id::softmax_cross_entropy_soft, 2,
                           softmax_cross_entropy_soft_backward, 5.0);
const PairLossBackwardOp kSoftXentBackward("softmax_cross_entropy_soft_backward",
                                           id::softmax_cross_entropy_soft_backward, 2, 5.0);
const PairLossOp kBce("bce_with_logits", id::bce_with_logits, -1, bce_with_logits_backward, 6.0);
const PairLossBackwardOp kBceBackward("bce_with_logits_backward", id::bce_with_logits_backward, -1, 4.0);
const NllLossOp kNll;
const NllLossBackwardOp kNllBackward;
}  // namespace

NodeId softmax_cross_entropy_soft(Graph& g, NodeId logits, NodeId targets, const std::string& name) {
  return g.add(kSoftXent, {logits, targets}, {}, name);
}
NodeId softmax_cross_entropy_soft_backward(Graph& g, NodeId logits, NodeId targets, NodeId dloss, int wrt,
                                           const std::string& name) {
  return g.add(kSoftXentBackward, {logits, targets, dloss}, Attrs{{"wrt", int64_t(wrt)}}, name);
}
NodeId bce_with_logits(Graph& g, NodeId logits, NodeId targets, const std::string& name) {
  return g.add(kBce, {logits, targets}, {}, name);
}
NodeId bce_with_logits_backward(Graph& g, NodeId logits, NodeId targets, NodeId dloss, int wrt, const std::string& name) {
  return g.add(kBceBackward, {logits, targets, dloss}, Attrs{{"wrt", int64_t(wrt)}}, name);
}
NodeId nll_loss(Graph& g, NodeId log_probs, NodeId labels, const std::string& name) {
  return g.add(kNll, {log_probs, labels}, {}, name);
}
NodeId nll_loss_backward(Graph& g, NodeId log_probs, NodeId labels, NodeId dloss, const std::string& name) {
  return g.add(kNllBackward, {log_probs, labels, dloss}, {}, name);
}

NodeId mse(Graph& g, NodeId a, NodeId b, const std::string& name) {
  // Unnamed: the parts get generated names too (names are unique in a graph).
  const auto part = [&](const char* s) { return name.empty() ? std::string() : name + s; };
  const NodeId d = sub(g, a, b, part("/diff"));
  return reduce_mean(g, square(g, d, part("/square")), {}, false, name);
}

}  // namespace gg::ops
