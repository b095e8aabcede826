// The optimizer update ops (adam_update, sgd_update, rmsprop_update), their
// builders, and clipping by global norm (composed from existing ops).
#include "optimizers.h"

#include <graphgrad/graph/op.h>

#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

// Checks that inputs 1..count-1 (gradient, slots) have the shape of input 0 (the parameter).
void check_like_param(const Graph& g, const Node& n, const char* op, size_t count) {
  const Node& p = g.node(n.inputs[0]);
  if (p.op->role() != OpRole::parameter) fail(n, op, g.describe(p.id) + " is not a parameter");
  for (size_t i = 1; i < count; ++i)
    if (g.node(n.inputs[i]).shape != p.shape)
      fail(n, op, g.describe(n.inputs[i]) + " does not match parameter " + g.describe(p.id));
}

// The inputs an update node has before its optional lr_scale.
size_t fixed_inputs(const Node& n) {
  switch (n.op->id()) {
    case id::adam_update: return 5;  // param, grad, m, v, step
    case id::sgd_update: return 3;   // param, grad, velocity
    case id::rmsprop_update:         // param, grad, velocity, [momentum], [average gradient]
      return 3 + (n.attrs.f("momentum") > 0 ? 1 : 0) + (n.attrs.i("centered") ? 1 : 0);
    default: return n.inputs.size();
  }
}

// The arity check shared by the update ops, and the lr_scale input's shape and type.
void check_inputs(const Graph& g, const Node& n, const char* op) {
  const size_t fixed = fixed_inputs(n);
  detail::expect_inputs(n, op, fixed, fixed + 1);
  if (n.inputs.size() == fixed + 1) {
    const Node& s = detail::input(g, n, op, fixed, 1, "lr_scale", DType::f32);
    if (s.shape != Shape{1}) fail(n, op, "lr_scale " + g.describe(s.id) + " must have shape [1]");
  }
}

// Weight decay's cost per element (p -= p * wd * lr) when the node has it.
double decay_flops(const Node& n) { return n.attrs.f("weight_decay") != 0 ? 2.0 : 0.0; }

class AdamUpdateOp final : public Op {
 public:
  const char* name() const override { return "adam_update"; }
  OpId id() const override { return id::adam_update; }
  std::vector<int> mutated_inputs() const override { return {0, 2, 3}; }
  // inputs: param, grad, m, v, step, [lr_scale]
  TypedShape infer(const Graph& g, const Node& n) const override {
    check_inputs(g, n, name());
    check_like_param(g, n, name(), 4);
    detail::input(g, n, name(), 4, 1, "step", DType::i32);
    return {Shape{}, DType::f32};
  }
  double flops(const Graph& g, const Node& n, int64_t) const override {
    return (10.0 + decay_flops(n)) * double(g.node(n.inputs[0]).shape.numel());
  }
};

class SgdUpdateOp final : public Op {
 public:
  const char* name() const override { return "sgd_update"; }
  OpId id() const override { return id::sgd_update; }
  std::vector<int> mutated_inputs() const override { return {0, 2}; }
  // inputs: param, grad, velocity, [lr_scale]
  TypedShape infer(const Graph& g, const Node& n) const override {
    check_inputs(g, n, name());
    check_like_param(g, n, name(), 3);
    return {Shape{}, DType::f32};
  }
  double flops(const Graph& g, const Node& n, int64_t) const override {
    return (4.0 + decay_flops(n)) * double(g.node(n.inputs[0]).shape.numel());
  }
};

class RmspropUpdateOp final : public Op {
 public:
  const char* name() const override { return "rmsprop_update"; }
  OpId id() const override { return id::rmsprop_update; }
  // The parameter and the velocity; the optional momentum and average-gradient
  // slots after them are written too (the list is per op, not per node, and
  // graph/ reads it only to know that the node is an update).
  std::vector<int> mutated_inputs() const override { return {0, 2}; }
  // inputs: param, grad, velocity, [momentum if attr momentum > 0],
  // [average gradient if centered], [lr_scale]
  TypedShape infer(const Graph& g, const Node& n) const override {
    check_inputs(g, n, name());
    check_like_param(g, n, name(), fixed_inputs(n));
    return {Shape{}, DType::f32};
  }
  double flops(const Graph& g, const Node& n, int64_t) const override {
    const double per = 9.0 + (n.attrs.f("momentum") > 0 ? 2.0 : 0.0) + (n.attrs.i("centered") ? 5.0 : 0.0);
    return (per + decay_flops(n)) * double(g.node(n.inputs[0]).shape.numel());
  }
};

const AdamUpdateOp kAdamUpdate;
const SgdUpdateOp kSgdUpdate;
const RmspropUpdateOp kRmspropUpdate;

void check_pairs(const std::vector<NodeId>& params, const std::vector<NodeId>& grads) {
  if (params.size() != grads.size())
    throw GraphError("optimizer: " + std::to_string(params.size()) + " parameters but " + std::to_string(grads.size()) +
                     " gradients");
}

// The update's inputs with lr_scale appended when there is one.
std::vector<NodeId> with_scale(std::vector<NodeId> inputs, NodeId lr_scale) {
  if (lr_scale != kNoNode) inputs.push_back(lr_scale);
  return inputs;
}
}  // namespace

int lr_scale_input(const Node& update) {
  const size_t fixed = fixed_inputs(update);
  return update.inputs.size() > fixed ? static_cast<int>(fixed) : -1;
}

std::vector<NodeId> adam(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads, NodeId step,
                         const AdamConfig& cfg, NodeId lr_scale) {
  check_pairs(params, grads);
  std::vector<NodeId> updates;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string pname = g.node(params[i]).name;
    const Shape shape = g.node(params[i]).shape;
    NodeId m = g.state(pname + "/adam_m", shape);
    NodeId v = g.state(pname + "/adam_v", shape);
    updates.push_back(g.add(kAdamUpdate, with_scale({params[i], grads[i], m, v, step}, lr_scale),
                            Attrs{{"lr", cfg.lr},
                                  {"beta1", cfg.beta1},
                                  {"beta2", cfg.beta2},
                                  {"epsilon", cfg.epsilon},
                                  {"weight_decay", cfg.weight_decay}},
                            "update/" + pname));
  }
  return updates;
}

std::vector<NodeId> adamw(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads, NodeId step,
                          const AdamWConfig& cfg, NodeId lr_scale) {
  return adam(g, params, grads, step,
              AdamConfig{.lr = cfg.lr,
                         .beta1 = cfg.beta1,
                         .beta2 = cfg.beta2,
                         .epsilon = cfg.epsilon,
                         .weight_decay = cfg.weight_decay},
              lr_scale);
}

std::vector<NodeId> sgd(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads,
                        const SgdConfig& cfg, NodeId lr_scale) {
  check_pairs(params, grads);
  std::vector<NodeId> updates;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string pname = g.node(params[i]).name;
    NodeId vel = g.state(pname + "/sgd_velocity", g.node(params[i]).shape);
    updates.push_back(g.add(kSgdUpdate, with_scale({params[i], grads[i], vel}, lr_scale),
                            Attrs{{"lr", cfg.lr},
                                  {"momentum", cfg.momentum},
                                  {"nesterov", int64_t(cfg.nesterov)},
                                  {"weight_decay", cfg.weight_decay}},
                            "update/" + pname));
  }
  return updates;
}

std::vector<NodeId> rmsprop(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads,
                            const RmspropConfig& cfg, NodeId lr_scale) {
  check_pairs(params, grads);
  std::vector<NodeId> updates;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string pname = g.node(params[i]).name;
    const Shape shape = g.node(params[i]).shape;
    std::vector<NodeId> inputs{params[i], grads[i], g.state(pname + "/rmsprop_velocity", shape)};
    if (cfg.momentum > 0) inputs.push_back(g.state(pname + "/rmsprop_momentum", shape));
    if (cfg.centered) inputs.push_back(g.state(pname + "/rmsprop_average_gradient", shape));
    updates.push_back(g.add(kRmspropUpdate, with_scale(std::move(inputs), lr_scale),
                            Attrs{{"lr", cfg.lr},
                                  {"rho", cfg.rho},
                                  {"momentum", cfg.momentum},
                                  {"epsilon", cfg.epsilon},
                                  {"centered", int64_t(cfg.centered)},
                                  {"weight_decay", cfg.weight_decay}},
                            "update/" + pname));
  }
  return updates;
}

std::vector<NodeId> clip_by_global_norm(Graph& g, const std::vector<NodeId>& grads, double clip_norm,
                                        NodeId* global_norm) {
  if (grads.empty()) throw GraphError("clip_by_global_norm: no gradients");
  if (!(clip_norm > 0)) throw GraphError("clip_by_global_norm: clip_norm must be > 0, got " + std::to_string(clip_norm));
  NodeId sum = kNoNode;
  for (NodeId grad : grads) {
    const NodeId sq = reduce_sum(g, square(g, grad));
    sum = sum == kNoNode ? sq : add(g, sum, sq);
  }
  const NodeId norm = sqrt(g, sum);
  const NodeId limit = scalar(g, static_cast<float>(clip_norm));
  // TF adds (norm - norm): 0 for a finite norm, NaN for inf, so that an
  // overflowed norm poisons the step instead of silently zeroing it.
  const NodeId scale = add(g, div(g, limit, maximum(g, norm, limit)), sub(g, norm, norm));
  std::vector<NodeId> clipped;
  clipped.reserve(grads.size());
  for (NodeId grad : grads) clipped.push_back(mul(g, grad, scale));
  if (global_norm) *global_norm = norm;
  return clipped;
}

}  // namespace gg::ops
