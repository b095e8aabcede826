// Inverted dropout. Its gradient is the same op applied to dy: same key, same
// mask, same scale.
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

class DropoutOp final : public Op {
 public:
  const char* name() const override { return "dropout"; }
  OpId id() const override { return id::dropout; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 3, 3);
    const Node& x = detail::input(g, n, name(), 0, -1, "input x");
    for (size_t i = 1; i < 3; ++i) {
      const Node& c = detail::input(g, n, name(), i, 1, i == 1 ? "step" : "sample_base", DType::i32);
      if (c.shape[0] != 1) fail(n, name(), g.describe(c.id) + " must have shape [1]");
    }
    if (!x.shape.has_batch()) fail(n, name(), "input " + g.describe(x.id) + " needs a leading batch dimension");
    const double rate = n.attrs.f("rate");
    if (!(rate >= 0.0 && rate < 1.0)) fail(n, name(), "rate must be in [0, 1), got " + std::to_string(rate));
    return {x.shape, DType::f32};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    if (!needs[0]) return {kNoNode, kNoNode, kNoNode};
    return {g.add(*this, {dy, n.inputs[1], n.inputs[2]}, n.attrs, "grad/" + n.name + "/x"), kNoNode, kNoNode};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override { return double(n.shape.numel(batch)); }
};

const DropoutOp kDropout;
}  // namespace

NodeId dropout(Graph& g, NodeId x, NodeId step, NodeId sample_base, double rate, uint32_t seed,
               const std::string& name) {
  return g.add(kDropout, {x, step, sample_base}, Attrs{{"rate", rate}, {"seed", int64_t(seed)}}, name);
}

}  // namespace gg::ops
