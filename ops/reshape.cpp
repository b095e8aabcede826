// reshape/flatten: a new view of the same elements in the same order. Backends
// may alias the input's buffer; the gradient is the reverse reshape.
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

class ReshapeOp final : public Op {
 public:
  const char* name() const override { return "reshape"; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& x = g.node(n.inputs[0]);
    Shape out(n.attrs.ints("shape"));
    if (out.has_batch() != x.shape.has_batch() || out.per_item() != x.shape.per_item() ||
        (!out.has_batch() && out.numel() != x.shape.numel()))
      fail(n, name(), "cannot view " + g.describe(x.id) + " as " + out.str());
    return {out, x.dtype};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    return {needs[0] ? reshape(g, dy, g.node(n.inputs[0]).shape, "grad/" + n.name + "/x") : kNoNode};
  }
};

const ReshapeOp kReshape;
}  // namespace

NodeId reshape(Graph& g, NodeId x, Shape shape, const std::string& name) {
  return g.add(kReshape, {x}, Attrs{{"shape", shape.dims()}}, name);
}

NodeId flatten(Graph& g, NodeId x, const std::string& name) {
  const Shape& s = g.node(x).shape;
  return reshape(g, x, Shape{s.rank() > 0 ? s[0] : 1, s.per_item()}, name);
}

}  // namespace gg::ops
