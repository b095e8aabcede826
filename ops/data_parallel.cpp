#include "data_parallel.h"

#include <algorithm>

#include <graphgrad/graph/op.h>

#include "op_table.h"
#include "op_util.h"

namespace gg::ops {
namespace {
using detail::fail;

// inputs: [weight,] values...; attrs: tag, weighted
class AllreduceStartOp final : public Op {
 public:
  const char* name() const override { return "allreduce_start"; }
  OpId id() const override { return id::allreduce_start; }
  Placement placement() const override { return Placement::early; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    const size_t first = n.attrs.i("weighted") ? 1 : 0;
    if (n.inputs.size() <= first) fail(n, name(), "needs at least one value to reduce");
    if (first) {
      const Node& w = detail::input(g, n, name(), 0, 1, "weight");
      if (w.shape[0] != 1) fail(n, name(), "weight " + g.describe(w.id) + " must be [1]");
    }
    int64_t total = 0;
    for (size_t i = first; i < n.inputs.size(); ++i) {
      const Node& v = detail::input(g, n, name(), i, -1, "value");
      if (v.shape.has_batch()) fail(n, name(), "value " + g.describe(v.id) + " has a batch dimension; ranks reduce fixed-size values");
      total += v.shape.numel();
    }
    return {Shape{total}, DType::f32};
  }
  double flops(const Graph& g, const Node& n, int64_t) const override { return double(n.shape.numel()); }
};

// inputs: start; attrs: tag, reduce ("sum" | "mean")
class AllreduceWaitOp final : public Op {
 public:
  const char* name() const override { return "allreduce_wait"; }
  OpId id() const override { return id::allreduce_wait; }
  Placement placement() const override { return Placement::late; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& s = g.node(n.inputs[0]);
    if (s.op->id() != id::allreduce_start) fail(n, name(), g.describe(s.id) + " is not an allreduce_start");
    const std::string& r = n.attrs.s("reduce");
    if (r != "sum" && r != "mean") fail(n, name(), "reduce must be sum or mean, got '" + r + "'");
    return {s.shape, DType::f32};
  }
  // The sum happens in the start; a mean scales once per element.
  double flops(const Graph&, const Node& n, int64_t) const override {
    return n.attrs.s("reduce") == "mean" ? double(n.shape.numel()) : 0.0;
  }
};

// inputs: flat; attrs: offset, shape
class BucketSliceOp final : public Op {
 public:
  const char* name() const override { return "bucket_slice"; }
  OpId id() const override { return id::bucket_slice; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    detail::expect_inputs(n, name(), 1, 1);
    const Node& f = detail::input(g, n, name(), 0, 1, "buffer");
    Shape out(n.attrs.ints("shape"));
    const int64_t offset = n.attrs.i("offset");
    if (out.has_batch() || offset < 0 || offset + out.numel() > f.shape[0])
      fail(n, name(), out.str() + " at element " + std::to_string(offset) + " does not lie within " + g.describe(f.id));
    return {out, DType::f32};
  }
  double flops(const Graph&, const Node&, int64_t) const override { return 0; }  // a view
};

const AllreduceStartOp kStart;
const AllreduceWaitOp kWait;
const BucketSliceOp kSlice;
}  // namespace

NodeId allreduce_start(Graph& g, const std::vector<NodeId>& values, NodeId weight, int tag, const std::string& name) {
  std::vector<NodeId> inputs;
  if (weight != kNoNode) inputs.push_back(weight);
  inputs.insert(inputs.end(), values.begin(), values.end());
  return g.add(kStart, std::move(inputs), Attrs{{"tag", int64_t{tag}}, {"weighted", int64_t{weight != kNoNode}}}, name);
}

NodeId allreduce_wait(Graph& g, NodeId start, Reduce reduce, const std::string& name) {
  return g.add(kWait, {start}, Attrs{{"tag", g.node(start).attrs.i("tag")}, {"reduce", std::string(reduce == Reduce::mean ? "mean" : "sum")}},
               name);
}

NodeId bucket_slice(Graph& g, NodeId flat, int64_t offset, Shape shape, const std::string& name) {
  return g.add(kSlice, {flat}, Attrs{{"offset", offset}, {"shape", shape.dims()}}, name);
}

std::vector<NodeId> allreduce_gradients(Graph& g, const std::vector<NodeId>& grads, NodeId weight,
                                        const AllreduceOptions& options) {
  if (options.max_tensors < 1) throw GraphError("allreduce_gradients: max_tensors must be >= 1");
  // The order the backward pass computes them in: ascending node ids.
  std::vector<size_t> by_id(grads.size());
  for (size_t i = 0; i < by_id.size(); ++i) by_id[i] = i;
  std::sort(by_id.begin(), by_id.end(), [&](size_t a, size_t b) { return grads[a] < grads[b]; });

  std::vector<NodeId> reduced(grads.size(), kNoNode);
  const Reduce reduce = weight != kNoNode ? Reduce::sum : Reduce::mean;
  std::vector<size_t> bucket;
  size_t bytes = 0;
  // Tags name the step's all-reduces: continue after any an earlier pass made.
  int tag = 0;
  for (const Node& n : g.nodes())
    if (n.op->id() == id::allreduce_start) tag = std::max(tag, static_cast<int>(n.attrs.i("tag")) + 1);
  auto close = [&] {
    if (bucket.empty()) return;
    std::vector<NodeId> values;
    for (size_t i : bucket) values.push_back(grads[i]);
    const std::string base = "allreduce/bucket_" + std::to_string(tag);
    const NodeId start = allreduce_start(g, values, weight, tag, base + "/start");
    const NodeId done = allreduce_wait(g, start, reduce, base);
    int64_t offset = 0;
    for (size_t i : bucket) {
      const Node v = g.node(grads[i]);  // a copy: adding nodes may move the graph's storage
      reduced[i] = bucket_slice(g, done, offset, v.shape, base + "/" + v.name);
      offset += v.shape.numel();
    }
    bucket.clear(), bytes = 0, ++tag;
  };
  for (size_t i : by_id) {
    bucket.push_back(i);
    bytes += static_cast<size_t>(g.node(grads[i]).shape.numel()) * 4;
    if (bytes >= options.bucket_bytes || static_cast<int>(bucket.size()) >= options.max_tensors) close();
  }
  close();
  return reduced;
}

}  // namespace gg::ops
