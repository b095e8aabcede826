// reshape/flatten: a new view of the same elements in the same order. Backends
// may alias the input's buffer; the gradient is the reverse reshape.
#include "op_table.h"
#include "op_util.h"
#include "ops.h"

namespace gg::ops {
namespace {
using detail::fail;

// The requested shape with its -1 (if any) inferred from x's element count;
// where x has a symbolic batch, the -1 must stand for exactly that batch.
Shape resolve(const Graph& g, const Node& n, const Node& x, const std::vector<int64_t>& want) {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == -1) {
      if (infer >= 0) fail(n, "reshape", "only one dimension of " + Shape(want).str() + " may be -1 (inferred)");
      infer = static_cast<int>(i);
    } else if (want[i] <= 0) {
      fail(n, "reshape", "dimension " + std::to_string(i) + " of the requested shape is " + std::to_string(want[i]));
    } else {
      known *= want[i];
    }
  }
  const std::string req = "cannot view " + g.describe(x.id) + " as " + Shape(want).str() + ": ";
  if (!x.shape.has_batch()) {
    const int64_t total = x.shape.numel();
    if (infer < 0) {
      if (known != total)
        fail(n, "reshape", req + std::to_string(total) + " elements against " + std::to_string(known));
      return Shape(want);
    }
    if (total % known)
      fail(n, "reshape", req + std::to_string(total) + " elements do not divide into rows of " + std::to_string(known));
    std::vector<int64_t> out = want;
    out[static_cast<size_t>(infer)] = total / known;
    return Shape(std::move(out));
  }
  // x has N * per_item elements for a batch N known only at run time.
  const int64_t per = x.shape.per_item();
  if (infer < 0)
    fail(n, "reshape", req + "x has a symbolic batch dimension N; give -1 for it");
  if (infer != 0)
    fail(n, "reshape", req + "with a symbolic batch N, the inferred (-1) dimension must lead, standing for N");
  if (known != per)
    fail(n, "reshape", req + "the leading dimension would be " + std::to_string(per) + "N/" + std::to_string(known) +
                           ", not N; a shape can only say N. Give the placeholder a fixed batch to reshape across it");
  return Shape(want);  // -1 == kBatch
}

class ReshapeOp final : public Op {
 public:
  const char* name() const override { return "reshape"; }
  OpId id() const override { return id::reshape; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& x = g.node(n.inputs[0]);
    return {resolve(g, n, x, n.attrs.ints("shape")), x.dtype};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    return {needs[0] ? reshape(g, dy, g.node(n.inputs[0]).shape, "grad/" + n.name + "/x") : kNoNode};
  }
  double flops(const Graph&, const Node&, int64_t) const override { return 0; }
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
