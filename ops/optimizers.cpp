#include "optimizers.h"

#include <graphgrad/graph/op.h>

#include "op_table.h"
#include "op_util.h"

namespace gg::ops {
namespace {
using detail::fail;

// Checks that inputs 1.. (gradient, slots) have the shape of input 0 (the parameter).
void check_like_param(const Graph& g, const Node& n, const char* op, size_t count) {
  const Node& p = g.node(n.inputs[0]);
  if (p.op->role() != OpRole::parameter) fail(n, op, g.describe(p.id) + " is not a parameter");
  for (size_t i = 1; i < count; ++i)
    if (g.node(n.inputs[i]).shape != p.shape)
      fail(n, op, g.describe(n.inputs[i]) + " does not match parameter " + g.describe(p.id));
}

class AdamUpdateOp final : public Op {
 public:
  const char* name() const override { return "adam_update"; }
  OpId id() const override { return id::adam_update; }
  std::vector<int> mutated_inputs() const override { return {0, 2, 3}; }
  // inputs: param, grad, m, v, step
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 5, 5);
    check_like_param(g, n, name(), 4);
    detail::input(g, n, name(), 4, 1, "step", DType::i32);
    return {Shape{}, DType::f32};
  }
  double flops(const Graph& g, const Node& n, int64_t) const override {
    return 10.0 * double(g.node(n.inputs[0]).shape.numel());
  }
};

class SgdUpdateOp final : public Op {
 public:
  const char* name() const override { return "sgd_update"; }
  OpId id() const override { return id::sgd_update; }
  std::vector<int> mutated_inputs() const override { return {0, 2}; }
  // inputs: param, grad, velocity
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 3, 3);
    check_like_param(g, n, name(), 3);
    return {Shape{}, DType::f32};
  }
  double flops(const Graph& g, const Node& n, int64_t) const override {
    return 4.0 * double(g.node(n.inputs[0]).shape.numel());
  }
};

const AdamUpdateOp kAdamUpdate;
const SgdUpdateOp kSgdUpdate;

void check_pairs(const std::vector<NodeId>& params, const std::vector<NodeId>& grads) {
  if (params.size() != grads.size())
    throw GraphError("optimizer: " + std::to_string(params.size()) + " parameters but " + std::to_string(grads.size()) +
                     " gradients");
}
}  // namespace

std::vector<NodeId> adam(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads, NodeId step,
                         const AdamConfig& cfg) {
  check_pairs(params, grads);
  std::vector<NodeId> updates;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string pname = g.node(params[i]).name;
    const Shape shape = g.node(params[i]).shape;
    NodeId m = g.state(pname + "/adam_m", shape);
    NodeId v = g.state(pname + "/adam_v", shape);
    updates.push_back(g.add(kAdamUpdate, {params[i], grads[i], m, v, step},
                            Attrs{{"lr", cfg.lr}, {"beta1", cfg.beta1}, {"beta2", cfg.beta2}, {"epsilon", cfg.epsilon}},
                            "update/" + pname));
  }
  return updates;
}

std::vector<NodeId> sgd(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads,
                        const SgdConfig& cfg) {
  check_pairs(params, grads);
  std::vector<NodeId> updates;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string pname = g.node(params[i]).name;
    NodeId vel = g.state(pname + "/sgd_velocity", g.node(params[i]).shape);
    updates.push_back(g.add(kSgdUpdate, {params[i], grads[i], vel},
                            Attrs{{"lr", cfg.lr}, {"momentum", cfg.momentum}, {"nesterov", int64_t(cfg.nesterov)}},
                            "update/" + pname));
  }
  return updates;
}

}  // namespace gg::ops
