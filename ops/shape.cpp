// transpose (PyTorch's permute), concat (torch.cat) and slice (basic slicing
// x[start:stop:step]) with slice_backward: pure data movement. Gradients: a
// transpose by the inverse permutation, one slice of dy per concat input, and
// dy scattered back into zeros of x's shape; slice and slice_backward are each
// other's gradients. A symbolic batch dimension may neither move nor be cut:
// a shape can only lead with N, and cannot say 2N or "some of N".
#include <algorithm>
#include <numeric>

#include "op_table.h"
#include "op_util.h"
#include "ops.h"
#include "slice_geometry.h"

namespace gg::ops {
namespace {
using detail::fail;

// The kernels copy 4-byte words, so the shape ops take f32 and i32 alike.
DType same_dtype(const Graph& g, const Node& n, const char* op) {
  const DType t = g.node(n.inputs[0]).dtype;
  for (NodeId in : n.inputs)
    if (g.node(in).dtype != t)
      fail(n, op, "inputs differ in type: " + g.describe(n.inputs[0]) + " is " + dtype_name(t) + ", " +
                      g.describe(in) + " is " + dtype_name(g.node(in).dtype));
  return t;
}

std::string list(const std::vector<int64_t>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "}";
}

// attrs: perm (output axis i is x's axis perm[i]; normalized by the builder).
class TransposeOp final : public Op {
 public:
  const char* name() const override { return "transpose"; }
  OpId id() const override { return id::transpose; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& x = g.node(n.inputs[0]);
    const auto& perm = n.attrs.ints("perm");
    const int rank = x.shape.rank();
    if (static_cast<int>(perm.size()) != rank)
      fail(n, name(), "perm " + list(perm) + " must name each of the " + std::to_string(rank) + " axes of " +
                          g.describe(x.id) + " once");
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    std::vector<int64_t> out;
    for (int64_t p : perm) {
      if (p < 0 || p >= rank || seen[static_cast<size_t>(p)])
        fail(n, name(), "perm " + list(perm) + " is not a permutation of the axes of " + g.describe(x.id) +
                            (p < 0 || p >= rank ? ": " + std::to_string(p) + " is out of range" : ": an axis is named twice"));
      seen[static_cast<size_t>(p)] = true;
      out.push_back(x.shape[static_cast<int>(p)]);
    }
    if (x.shape.has_batch() && perm[0] != 0)
      fail(n, name(), "perm " + list(perm) + " would move the symbolic batch dimension N of " + g.describe(x.id) +
                          " away from axis 0; a shape can only lead with N. Keep perm[0] = 0, or give the "
                          "placeholder a fixed batch");
    return {Shape(std::move(out)), x.dtype};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    if (!needs[0]) return {kNoNode};
    const Node n = g.node(id);
    const auto& perm = n.attrs.ints("perm");
    std::vector<int> inv(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inv[static_cast<size_t>(perm[i])] = static_cast<int>(i);
    return {transpose(g, dy, std::move(inv), "grad/" + n.name + "/x")};
  }
  double flops(const Graph&, const Node&, int64_t) const override { return 0; }
};

// attrs: axis (normalized by the builder).
class ConcatOp final : public Op {
 public:
  const char* name() const override { return "concat"; }
  OpId id() const override { return id::concat; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 64);
    const DType t = same_dtype(g, n, name());
    const Node& x0 = g.node(n.inputs[0]);
    const int rank = x0.shape.rank();
    const int64_t axis = n.attrs.i("axis");
    if (axis < 0 || axis >= rank)
      fail(n, name(), "axis " + std::to_string(axis) + " is out of range for " + g.describe(x0.id) +
                          (rank == 0 ? " (a scalar has no axis to join along)" : ""));
    std::vector<int64_t> out = x0.shape.dims();
    out[static_cast<size_t>(axis)] = 0;
    for (NodeId in : n.inputs) {
      const Shape& s = g.node(in).shape;
      if (s.rank() != rank)
        fail(n, name(), "inputs differ in rank: " + g.describe(x0.id) + " and " + g.describe(in));
      for (int d = 0; d < rank; ++d)
        if (d != axis && s[d] != x0.shape[d])
          fail(n, name(), "inputs differ in dimension " + std::to_string(d) + " (only axis " + std::to_string(axis) +
                              " may differ): " + g.describe(x0.id) + " and " + g.describe(in));
      if (s[static_cast<int>(axis)] == kBatch)
        fail(n, name(), "cannot join along the symbolic batch dimension N of " + g.describe(in) +
                            ": a shape cannot say 2N. Give the placeholders a fixed batch to concatenate across it");
      out[static_cast<size_t>(axis)] += s[static_cast<int>(axis)];
    }
    return {Shape(std::move(out)), t};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    const Node n = g.node(id);
    const int axis = static_cast<int>(n.attrs.i("axis"));
    std::vector<NodeId> dx(n.inputs.size(), kNoNode);
    int64_t at = 0;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int64_t len = g.node(n.inputs[i]).shape[axis];
      if (needs[i])
        dx[i] = slice(g, dy, {SliceSpec{.axis = axis, .start = at, .stop = at + len}},
                      "grad/" + n.name + "/x" + std::to_string(i));
      at += len;
    }
    return dx;
  }
  double flops(const Graph&, const Node&, int64_t) const override { return 0; }
};

// attrs: axes, starts, stops, steps as the user gave them (resolve_slice).
class SliceOp final : public Op {
 public:
  const char* name() const override { return "slice"; }
  OpId id() const override { return id::slice; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& x = g.node(n.inputs[0]);
    SliceGeometry geo;
    if (std::string why = resolve_slice(x.shape, n.attrs, geo); !why.empty())
      fail(n, name(), "cannot slice " + g.describe(x.id) + ": " + why);
    return {Shape(geo.out), x.dtype};
  }
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    if (!needs[0]) return {kNoNode};
    const Node n = g.node(id);
    return {slice_backward(g, dy, n, "grad/" + n.name + "/x")};
  }
  double flops(const Graph&, const Node&, int64_t) const override { return 0; }
};
const SliceOp kSlice;

// attrs: the slice's, plus shape (x's: the output's).
class SliceBackwardOp final : public Op {
 public:
  const char* name() const override { return "slice_backward"; }
  OpId id() const override { return id::slice_backward; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& dy = detail::input(g, n, name(), 0, -1, "input dy");
    const Shape xs(n.attrs.ints("shape"));
    SliceGeometry geo;
    if (std::string why = resolve_slice(xs, n.attrs, geo); !why.empty())
      fail(n, name(), "cannot slice " + xs.str() + ": " + why);
    if (Shape(geo.out) != dy.shape)
      fail(n, name(), "dy " + g.describe(dy.id) + " must have the slice's shape " + Shape(geo.out).str());
    return {xs, DType::f32};
  }
  // Linear in dy: its own gradient is the slice of the upstream gradient.
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dz, const std::vector<bool>& needs) const override {
    if (!needs[0]) return {kNoNode};
    const Node n = g.node(id);
    const Attrs& a = n.attrs;
    return {g.add(kSlice, {dz}, Attrs{{"axes", a.ints("axes")}, {"starts", a.ints("starts")}, {"stops", a.ints("stops")},
                                      {"steps", a.ints("steps")}},
                  "grad/" + n.name + "/dy")};
  }
  double flops(const Graph&, const Node&, int64_t) const override { return 0; }
};

const TransposeOp kTranspose;
const ConcatOp kConcat;
const SliceBackwardOp kSliceBackward;

// The kernels of both backends take at most this many inputs a node.
constexpr size_t kConcatFanIn = 16;

}  // namespace

NodeId transpose(Graph& g, NodeId x, std::vector<int> perm, const std::string& name) {
  const int rank = g.node(x).shape.rank();
  std::vector<int64_t> p;
  if (perm.empty())
    for (int i = rank - 1; i >= 0; --i) p.push_back(i);
  // Out-of-range entries stay as given: the shape rule refuses them, naming the node.
  for (int a : perm) p.push_back(a < 0 && a >= -rank ? a + rank : a);
  return g.add(kTranspose, {x}, Attrs{{"perm", p}}, name);
}

NodeId concat(Graph& g, std::vector<NodeId> xs, int axis, const std::string& name) {
  const int rank = xs.empty() ? 0 : g.node(xs[0]).shape.rank();
  const int64_t a = axis < 0 && axis >= -rank ? axis + rank : axis;
  if (xs.size() <= kConcatFanIn) return g.add(kConcat, std::move(xs), Attrs{{"axis", a}}, name);
  // Joined in groups first (the same result): a node of either backend takes at most kConcatFanIn inputs.
  const std::string base = name.empty() ? "concat_" + std::to_string(g.size()) : name;
  std::vector<NodeId> groups;
  for (size_t i = 0; i < xs.size(); i += kConcatFanIn) {
    std::vector<NodeId> part(xs.begin() + static_cast<std::ptrdiff_t>(i),
                             xs.begin() + static_cast<std::ptrdiff_t>(std::min(xs.size(), i + kConcatFanIn)));
    groups.push_back(g.add(kConcat, std::move(part), Attrs{{"axis", a}}, base + "/part" + std::to_string(groups.size())));
  }
  return concat(g, std::move(groups), axis, name);
}

NodeId slice(Graph& g, NodeId x, std::vector<SliceSpec> specs, const std::string& name) {
  std::vector<int64_t> axes, starts, stops, steps;
  for (const SliceSpec& s : specs) {
    axes.push_back(s.axis);
    starts.push_back(s.start);
    stops.push_back(s.stop);
    steps.push_back(s.step);
  }
  return g.add(kSlice, {x}, Attrs{{"axes", axes}, {"starts", starts}, {"stops", stops}, {"steps", steps}}, name);
}

NodeId slice(Graph& g, NodeId x, std::vector<int> axes, std::vector<int64_t> starts, std::vector<int64_t> stops,
             std::vector<int64_t> steps, const std::string& name) {
  if (steps.empty()) steps.assign(axes.size(), 1);
  if (starts.size() != axes.size() || stops.size() != axes.size() || steps.size() != axes.size())
    throw GraphError("slice \"" + detail::node_name(g, "slice", name) + "\"" +
                     ": axes, starts, stops and steps must have one entry per sliced axis (got " + std::to_string(axes.size()) +
                     ", " + std::to_string(starts.size()) + ", " + std::to_string(stops.size()) + ", " + std::to_string(steps.size()) + ")");
  std::vector<SliceSpec> specs;
  for (size_t i = 0; i < axes.size(); ++i)
    specs.push_back({.axis = axes[i], .start = starts[i], .stop = stops[i], .step = steps[i]});
  return slice(g, x, std::move(specs), name);
}

NodeId slice_backward(Graph& g, NodeId dy, const Node& slice, const std::string& name) {
  if (slice.op->id() != id::slice)
    throw GraphError("slice_backward \"" + detail::node_name(g, "slice_backward", name) + "\": " + g.describe(slice.id) +
                     " is not a slice");
  Attrs a = slice.attrs;  // copied: adding a node may move `slice`
  a.set("shape", g.node(slice.inputs[0]).shape.dims());
  return g.add(kSliceBackward, {dy}, std::move(a), name);
}

}  // namespace gg::ops
