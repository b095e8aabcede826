// backends/fusion.h, the conv2d -> relu rule the CPU and Vulkan executables
// share, on small graphs: which convs take the relu epilogue, and which relus
// the memory plan lets drop.
#include <doctest/doctest.h>

#include <vector>

#include <graphgrad/backends/fusion.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/ops.h>

using namespace gg;

namespace {

struct Fused {
  std::vector<StepFusion> f;
  const StepFusion& operator[](NodeId id) const { return f[static_cast<size_t>(id)]; }
};

// The rule over the schedule of `targets`, the targets observed.
Fused decide(const Graph& g, const std::vector<NodeId>& targets) {
  std::vector<const Node*> steps;
  for (NodeId id : g.schedule(targets))
    if (g.node(id).op->role() == OpRole::compute) steps.push_back(&g.node(id));
  std::vector<bool> observed(static_cast<size_t>(g.size()), false);
  for (NodeId t : targets) observed[static_cast<size_t>(t)] = true;
  return {fuse_conv_relu(g, steps, observed)};
}

}  // namespace

TEST_SUITE("graph") {

TEST_CASE("fuse_conv_relu: a conv2d takes the relu epilogue only where that relu alone reads it and its value is unseen") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 2, 5, 5});
  const NodeId w = g.parameter("w", Shape{3, 2, 3, 3}, Init::uniform(-1, 1));
  const NodeId b = g.parameter("b", Shape{3}, Init::uniform(-1, 1));
  const NodeId conv = ops::conv2d(g, x, w, b);
  const NodeId r = ops::relu(g, conv);
  const NodeId out = ops::add(g, r, r);

  const Fused alone = decide(g, {out});
  CHECK(alone[conv].relu_epilogue);
  CHECK(alone[r].fused_relu);
  CHECK_FALSE(alone[r].skip);  // decided by the plan (skip_fused_relus)
  CHECK_FALSE(alone[out].relu_epilogue);
  // The relu a target: still fused (its value is the relu'd conv).
  CHECK(decide(g, {r})[conv].relu_epilogue);
  // The conv a target: its pre-relu value is seen.
  const Fused seen = decide(g, {out, conv});
  CHECK_FALSE(seen[conv].relu_epilogue);
  CHECK_FALSE(seen[r].fused_relu);

  // A second reader of the conv (an add; a reshape, an alias, counts too).
  const NodeId twice = ops::add(g, ops::relu(g, conv), conv);
  CHECK_FALSE(decide(g, {twice})[conv].relu_epilogue);
  const NodeId viewed = ops::add(g, ops::reshape(g, ops::relu(g, conv), Shape{kBatch, 27}), ops::reshape(g, conv, Shape{kBatch, 27}));
  CHECK_FALSE(decide(g, {viewed})[conv].relu_epilogue);

  // Only a conv2d's relu: a dense's stays a step of its own.
  const NodeId v = g.placeholder("v", Shape{kBatch, 4});
  const NodeId d = ops::dense(g, v, g.parameter("wd", Shape{4, 4}, Init::uniform(-1, 1)), kNoNode);
  const NodeId dr = ops::relu(g, d);
  const Fused dense = decide(g, {dr});
  CHECK_FALSE(dense[d].relu_epilogue);
  CHECK_FALSE(dense[dr].fused_relu);
}

TEST_CASE("skip_fused_relus: a fused relu is dropped only where the plan put it on its conv's bytes") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 1, 4, 4});
  const NodeId conv = ops::conv2d(g, x, g.parameter("w", Shape{2, 1, 3, 3}, Init::uniform(-1, 1)), kNoNode);
  const NodeId r = ops::relu(g, conv);
  const NodeId plain = ops::relu(g, x);  // not fused: never skipped, even on its input's bytes
  std::vector<StepFusion> f = decide(g, {r, plain}).f;
  auto skip_with = [&](int64_t conv_at, int64_t relu_at) {
    std::vector<int64_t> offset(static_cast<size_t>(g.size()), -1);
    offset[static_cast<size_t>(conv)] = conv_at;
    offset[static_cast<size_t>(r)] = relu_at;
    offset[static_cast<size_t>(plain)] = conv_at;
    skip_fused_relus(g, f, offset);
    CHECK_FALSE(f[static_cast<size_t>(plain)].skip);
    return f[static_cast<size_t>(r)].skip;
  };
  CHECK(skip_with(256, 256));
  CHECK_FALSE(skip_with(256, 512));  // its own buffer: runs, as a copy
  CHECK_FALSE(skip_with(256, -1));   // outside the arena (a CPU target's own buffer)
}

}  // TEST_SUITE
