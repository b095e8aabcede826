// libFuzzer target for graph building, autodiff and the CPU backend, through
// the public API only (ops/ops.h, graph/autodiff.h, backends/backend.h).
//
// Each input decodes (FuzzedDataProvider) into a program: a few leaves of
// random rank 0-4 and dimensions 1-5 (some with a leading kBatch), then up to
// kMaxOps builder calls drawn from the whole op table (every element-wise op
// of eltwise.def, the attribute ops with valid and invalid attributes,
// reductions, shape ops, softmax, matmul, dense, conv and pooling, the losses,
// dropout, the backward-only builders), each taking inputs picked at random
// among the nodes so far or made to fit, so that shapes, types and attributes
// often disagree. Then the gradient of a random node's sum with respect to the
// leaves it depends on, compiled on the CPU backend (one executable, or two
// sharing the backend's workspace) for a random batch 1-3, fed random values
// (labels within range, now and then out of it), run and fetched.
//
// A GraphError or BackendError whose message names a node (a double-quoted,
// non-empty name) is an expected outcome. Any other exception, an error that
// names nothing, a graph that fails its own validate(), a crash, a hang or a
// sanitizer report is a finding.
//
// GG_FUZZ_GRAPH_VERBOSE=1 prints each program's graph and how it ended (to
// triage a finding or pick seed inputs).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/ops/eltwise.h>
#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/ops.h>


#include "fuzz_graph_builder.h"

namespace {

using namespace gg;
using namespace gg::fuzz_graph;

// Fills one feed per input of `exe`: random values, labels mostly within their
// class count, and now and then a value a kernel must refuse or survive.
struct Feeds {
  static constexpr int32_t kOddLabels[] = {-1, -100, INT32_MIN, INT32_MAX, 5, 6};
  static constexpr float kOddValues[] = {0.0f, -0.0f, 1e30f, -1e30f, 1e-40f, std::numeric_limits<float>::infinity(),
                                         -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};
  std::vector<Feed> feeds;
  std::vector<std::vector<float>> f32;
  std::vector<std::vector<int32_t>> i32;

  Feeds(const Builder& b, const Graph& g, const Executable& exe, int64_t batch, uint32_t seed, bool odd_values) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> value(-2.0f, 2.0f);
    f32.reserve(exe.inputs().size());
    i32.reserve(exe.inputs().size());
    for (NodeId id : exe.inputs()) {
      const Node& n = g.node(id);
      const Shape s = n.shape.resolved(batch);
      const size_t count = static_cast<size_t>(s.numel());
      const void* data;
      if (n.dtype == DType::i32) {
        const int64_t classes = b.classes_of(id);
        std::vector<int32_t>& v = i32.emplace_back(count);
        for (auto& x : v) {
          if (odd_values && rng() % 8 == 0) x = kOddLabels[rng() % std::size(kOddLabels)];
          else x = classes > 0 ? static_cast<int32_t>(rng() % classes) : static_cast<int32_t>(rng() % 8);
        }
        data = v.data();
      } else {
        std::vector<float>& v = f32.emplace_back(count);
        for (auto& x : v) {
          if (odd_values && rng() % 8 == 0) x = kOddValues[rng() % std::size(kOddValues)];
          else x = value(rng);
        }
        data = v.data();
      }
      feeds.push_back({.node = id, .shape = s, .dtype = n.dtype, .data = data});
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Builder b(in);
  Graph& g = b.graph();

  b.leaves();
  for (int i = 0; i < kMaxOps && b.step(); ++i) {
  }
  if (b.nodes().empty()) return 0;

  // The gradient of a random node's sum with respect to the leaves it depends on.
  std::vector<NodeId> targets;
  const NodeId of = b.chance(40) ? b.pick() : b.last_f32();
  expect_ok("grad", [&] {
    const NodeId loss = ops::reduce_sum(g, of);
    targets.push_back(loss);
    std::vector<NodeId> wrt;
    for (NodeId id : g.schedule({loss})) {
      const Node& n = g.node(id);
      if ((n.op->role() == OpRole::input || n.op->role() == OpRole::parameter) && !b.chance(20)) wrt.push_back(id);
    }
    if (b.chance(10)) wrt.push_back(b.pick());  // maybe one the loss does not depend on: an error
    if (wrt.empty()) return;
    for (NodeId d : gg::grad(g, loss, wrt)) targets.push_back(d);
  });
  // A failed grad must leave the graph as it was before it: still valid.
  try {
    g.validate();
  } catch (const std::exception& e) {
    finding(std::string("the graph fails validate() after building: ") + e.what());
  }
  if (b.chance(30)) targets.push_back(b.pick());  // any node may be a target, i32 ones too
  if (targets.empty()) return 0;
  if (kVerbose) std::fprintf(stderr, "%s", g.dump().c_str());

  // One executable, sometimes two on the same backend: they share its
  // workspace, which compiling the second may grow and move under the first.
  struct Compiled {
    std::vector<NodeId> targets;
    int64_t max_batch = 1;
    std::unique_ptr<Executable> exe;
  };
  std::unique_ptr<Backend> backend;
  if (!expect_ok("backend", [&] { backend = make_backend("cpu", g, BackendOptions{.threads = 1}); })) return 0;
  std::vector<Compiled> exes;
  const int count = b.chance(25) ? 2 : 1;
  for (int k = 0; k < count; ++k) {
    Compiled c;
    c.targets = k == 0 ? targets : std::vector<NodeId>{b.pick()};
    if (k > 0 && b.chance(50)) c.targets.push_back(targets[0]);
    c.max_batch = b.chance(50) ? 1 : in.ConsumeIntegralInRange<int64_t>(1, 3);
    if (expect_ok("compile", [&] { c.exe = backend->compile(c.targets, c.max_batch); })) exes.push_back(std::move(c));
  }
  if (exes.empty()) return 0;

  const int runs = in.ConsumeIntegralInRange(1, 3);
  for (int r = 0; r < runs; ++r) {
    const Compiled& c = exes[in.ConsumeIntegralInRange<size_t>(0, exes.size() - 1)];
    int64_t batch = in.ConsumeIntegralInRange<int64_t>(1, c.max_batch);
    if (b.chance(3)) batch = c.max_batch + 1;  // refused if any input has a batch
    const bool odd = b.chance(20);
    Feeds f(b, g, *c.exe, batch, in.ConsumeIntegral<uint32_t>(), odd);
    if (b.chance(3) && !f.feeds.empty()) f.feeds.pop_back();  // a missing feed: refused
    const bool ran = expect_ok("run", [&] {
      c.exe->run(f.feeds);
      for (NodeId t : c.targets) {
        std::vector<float> out(static_cast<size_t>(g.node(t).shape.numel(c.exe->batch())));
        c.exe->fetch(t, out);
      }
    });
    if (kVerbose) std::fprintf(stderr, "  run %d (batch %lld): %s\n", r, static_cast<long long>(batch), ran ? "ok" : "error");
  }
  // The parameters read back, and now and then written.
  if (b.chance(20))
    expect_ok("variables", [&] {
      for (NodeId p : g.parameters()) {
        std::vector<float> v(static_cast<size_t>(g.node(p).shape.numel()));
        backend->read_variable(p, v);
        if (b.chance(50)) backend->write_variable(p, v);
      }
    });
  return 0;
}
