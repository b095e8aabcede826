// Graph IR basics: names, shape errors that name the node and both shapes,
// scheduling of update nodes, autodiff's errors and fan-out summation, the
// textual dumps, and the arena memory planner's two promises (reuse bytes of
// dead values; never overlap two values that are alive at once).
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/backends/memory_plan.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/ops.h>
#include <graphgrad/ops/optimizers.h>

#include "test_util.h"

using namespace gg;
using gg::test::contains;

namespace {


template <class F>
std::string graph_error(F&& f) { return test::error_of<GraphError>(f); }


}  // namespace

TEST_SUITE("graph") {

TEST_CASE("node names must be unique, and a clash names the node already there") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 4});
  std::string msg = graph_error([&] { g.parameter("x", Shape{4}, Init::zeros()); });
  CHECK_MSG(msg, "duplicate node name \"x\"");
  CHECK_MSG(msg, "placeholder \"x\" [N,4]");

  ops::relu(g, x, "act");
  msg = graph_error([&] { ops::relu(g, x, "act"); });
  CHECK_MSG(msg, "\"act\"");
  CHECK_MSG(msg, "relu");
  msg = graph_error([&] { g.state("act", Shape{2}); });
  CHECK_MSG(msg, "\"act\"");
  msg = graph_error([&] { g.constant("x", Shape{1}, {1.0f}); });
  CHECK_MSG(msg, "\"x\"");
  CHECK(g.size() == 2);  // the rejected nodes were not added

  // Unnamed nodes get "<op>_<id>" and never clash.
  const NodeId a = ops::relu(g, x), b = ops::relu(g, x);
  CHECK(g.node(a).name == "relu_2");
  CHECK(g.node(b).name == "relu_3");
  CHECK(g.find("relu_3") == b);
  CHECK(g.find("nope") == kNoNode);
  CHECK_MSG(graph_error([&] { g.at("nope"); }), "\"nope\"");
}

TEST_CASE("a cycle cannot be built: a node only takes nodes built before it") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 4});
  const NodeId a = ops::relu(g, x, "a");
  // A node taking itself (the id it would get) or a later node: the two ways to close a cycle.
  const std::string self = graph_error([&] { gg::add(g, a, g.size(), "loop"); });
  CHECK_MSG(self, "\"loop\"");
  CHECK_MSG(self, "input 1 (node id 2) is not a node of this graph");
  CHECK_MSG(self, "no cycle");
  CHECK_MSG(graph_error([&] { gg::add(g, g.size() + 5, a, "ahead"); }), "input 0 (node id 7)");
  CHECK_MSG(graph_error([&] { ops::relu(g, -3, "negative"); }), "node id -3");
  CHECK(g.size() == 2);  // nothing was added
  CHECK_NOTHROW(g.validate());
}

TEST_CASE("run() rejects feeds that are not inputs of the compiled targets") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 4});
  const NodeId other = g.placeholder("other", Shape{kBatch, 4});
  const NodeId w = g.parameter("w", Shape{4, 3}, Init::zeros());
  const NodeId y = ops::relu(g, x, "y");
  ops::relu(g, other, "z");
  auto backend = make_backend("cpu", g);
  auto exe = backend->compile({y}, 8);
  std::vector<float> data(8 * 12);
  const Feed fx{x, Shape{2, 4}, DType::f32, data.data()};
  auto run_error = [&](std::vector<Feed> feeds) { return test::error_of<BackendError>([&] { exe->run(feeds); }); };

  const std::string msg = run_error({fx, Feed{other, Shape{2, 4}, DType::f32, data.data()}});
  CHECK_MSG(msg, "placeholder \"other\"");
  CHECK_MSG(msg, "not an input of these targets (they take \"x\")");
  CHECK_MSG(run_error({fx, Feed{w, Shape{4, 3}, DType::f32, data.data()}}), "parameter \"w\"");
  CHECK_MSG(run_error({fx, Feed{999, Shape{2, 4}, DType::f32, data.data()}}), "node #999 (not in the graph)");
  CHECK_MSG(run_error({fx, fx}), "placeholder \"x\" was fed twice");
  CHECK_MSG(run_error({}), "placeholder \"x\" [N,4] was not fed");
  CHECK_NOTHROW(exe->run(std::vector<Feed>{fx}));
}

TEST_CASE("executables of one backend share its workspace; each target survives the others' runs") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 4});
  const NodeId r = ops::relu(g, x, "r");
  const NodeId twice = gg::add(g, r, r, "twice");
  const NodeId mid = ops::relu(g, twice, "mid");   // a non-target in the workspace
  const NodeId big = gg::add(g, mid, mid, "big");  // 4 * relu(x)
  auto backend = make_backend("cpu", g);
  auto small = backend->compile({twice}, 2);
  const std::vector<float> xs{-1, 2, -3, 4, 5, -6, 7, -8};
  auto fetch = [](const Executable& e, NodeId id, size_t n) {
    std::vector<float> v(n);
    e.fetch(id, v);
    return v;
  };
  small->run(std::vector<Feed>{{x, Shape{2, 4}, DType::f32, xs.data()}});
  const std::vector<float> want_small{0, 4, 0, 8, 10, 0, 14, 0};
  CHECK(fetch(*small, twice, 8) == want_small);

  auto large = backend->compile({big}, 64);  // needs a larger workspace: it grows
  std::vector<float> xl(64 * 4);
  for (size_t i = 0; i < xl.size(); ++i) xl[i] = float(i % 7) - 3;
  large->run(std::vector<Feed>{{x, Shape{64, 4}, DType::f32, xl.data()}});
  CHECK(fetch(*small, twice, 8) == want_small);  // the small one's target is its own
  const std::vector<float> got_large = fetch(*large, big, 64 * 4);
  for (size_t i = 0; i < xl.size(); ++i) CHECK(got_large[i] == 4 * std::max(xl[i], 0.0f));

  // The small executable runs again on the grown workspace, and the large one's result stays.
  const std::vector<float> xs2{1, 1, -1, -1, 2, 2, -2, -2};
  small->run(std::vector<Feed>{{x, Shape{2, 4}, DType::f32, xs2.data()}});
  CHECK(fetch(*small, twice, 8) == std::vector<float>{2, 2, 0, 0, 4, 4, 0, 0});
  CHECK(fetch(*large, big, 64 * 4) == got_large);
}

TEST_CASE("shape errors name the node and both shapes") {
  Graph g;
  const NodeId img = g.placeholder("img", Shape{kBatch, 3, 8, 8});
  const NodeId k_bad_c = g.parameter("k_bad_c", Shape{4, 2, 3, 3}, Init::zeros());
  const NodeId k_big = g.parameter("k_big", Shape{4, 3, 9, 3}, Init::zeros());
  const NodeId k_ok = g.parameter("k_ok", Shape{4, 3, 3, 3}, Init::zeros());
  const NodeId b_bad = g.parameter("b_bad", Shape{5}, Init::zeros());
  const int before = g.size();

  SUBCASE("conv2d: channels") {
    const std::string msg = graph_error([&] { ops::conv2d(g, img, k_bad_c, kNoNode, 1, ops::Padding::valid, "conv_a"); });
    CHECK_MSG(msg, "conv_a");
    CHECK_MSG(msg, "[N,3,8,8]");
    CHECK_MSG(msg, "[4,2,3,3]");
  }
  SUBCASE("conv2d: kernel larger than the input with valid padding") {
    const std::string msg = graph_error([&] { ops::conv2d(g, img, k_big, kNoNode, 1, ops::Padding::valid, "conv_b"); });
    CHECK_MSG(msg, "conv_b");
    CHECK_MSG(msg, "[N,3,8,8]");
    CHECK_MSG(msg, "[4,3,9,3]");
    // With 'same' padding the same kernel fits.
    const NodeId y = ops::conv2d(g, img, k_big, kNoNode, 1, ops::Padding::same, "conv_b_same");
    CHECK(g.node(y).shape == Shape{kBatch, 4, 8, 8});
  }
  SUBCASE("conv2d: bias") {
    const std::string msg = graph_error([&] { ops::conv2d(g, img, k_ok, b_bad, 1, ops::Padding::valid, "conv_c"); });
    CHECK_MSG(msg, "conv_c");
    CHECK_MSG(msg, "[5]");
    CHECK_MSG(msg, "[4,3,3,3]");
  }
  SUBCASE("conv2d: rank") {
    const NodeId flat = g.placeholder("flat", Shape{kBatch, 7});
    const std::string msg = graph_error([&] { ops::conv2d(g, flat, k_ok, kNoNode, 1, ops::Padding::valid, "conv_d"); });
    CHECK_MSG(msg, "conv_d");
    CHECK_MSG(msg, "[N,7]");
  }
  SUBCASE("dense: features") {
    const NodeId x = g.placeholder("x", Shape{kBatch, 7});
    const NodeId w = g.parameter("w", Shape{5, 3}, Init::zeros());
    const std::string msg = graph_error([&] { ops::dense(g, x, w, kNoNode, "fc"); });
    CHECK_MSG(msg, "fc");
    CHECK_MSG(msg, "[N,7]");
    CHECK_MSG(msg, "[5,3]");
  }
  SUBCASE("dense: bias, and a 4-D input") {
    const NodeId x = g.placeholder("x", Shape{kBatch, 7});
    const NodeId w = g.parameter("w", Shape{7, 3}, Init::zeros());
    std::string msg = graph_error([&] { ops::dense(g, x, w, b_bad, "fc_bias"); });
    CHECK_MSG(msg, "fc_bias");
    CHECK_MSG(msg, "[5]");
    CHECK_MSG(msg, "[7,3]");
    msg = graph_error([&] { ops::dense(g, img, w, kNoNode, "fc_img"); });
    CHECK_MSG(msg, "fc_img");
    CHECK_MSG(msg, "[N,3,8,8]");
  }
  SUBCASE("add") {
    const NodeId a = g.placeholder("a", Shape{kBatch, 4});
    const NodeId b = g.placeholder("b", Shape{kBatch, 5});
    const int n = g.size();
    const std::string msg = graph_error([&] { gg::add(g, a, b, "sum"); });
    CHECK_MSG(msg, "sum");
    CHECK_MSG(msg, "[N,4]");
    CHECK_MSG(msg, "[N,5]");
    CHECK(g.size() == n);
  }
  SUBCASE("a failed node leaves no trace: its name stays free") {
    graph_error([&] { ops::conv2d(g, img, k_bad_c, kNoNode, 1, ops::Padding::valid, "conv"); });
    CHECK(g.size() == before);
    CHECK(g.find("conv") == kNoNode);
    const NodeId y = ops::conv2d(g, img, k_ok, kNoNode, 1, ops::Padding::valid, "conv");
    CHECK(g.node(y).shape == Shape{kBatch, 4, 6, 6});
    g.validate();
  }
}

TEST_CASE("schedule: only the needed nodes, inputs first, update nodes last") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 2});
  const NodeId y = g.placeholder("y", Shape{kBatch}, DType::i32);
  const NodeId unused = g.placeholder("unused", Shape{kBatch, 9});
  const NodeId w = g.parameter("w", Shape{2, 3}, Init::glorot_uniform(2, 3));
  const NodeId logits = ops::dense(g, x, w, kNoNode, "logits");
  const NodeId loss = ops::softmax_cross_entropy(g, logits, y, "loss");
  const auto grads = gg::grad(g, loss, {w});
  const auto updates = ops::sgd(g, {w}, grads);
  // Built after the update, so with a larger id, yet it reads w: it must run
  // before the update overwrites w.
  const NodeId late = ops::dense(g, x, w, kNoNode, "late_reader");
  const NodeId late_relu = ops::relu(g, late, "late_relu");
  ops::relu(g, g.placeholder("other", Shape{kBatch, 3}), "not_needed");

  std::vector<NodeId> targets{updates[0], late_relu, loss};
  const std::vector<NodeId> order = g.schedule(targets);
  REQUIRE(!order.empty());
  CHECK(order.back() == updates[0]);
  CHECK(std::set<NodeId>(order.begin(), order.end()).size() == order.size());
  CHECK(std::count(order.begin(), order.end(), unused) == 0);
  CHECK(std::count(order.begin(), order.end(), g.at("not_needed")) == 0);
  std::map<NodeId, size_t> pos;
  for (size_t i = 0; i < order.size(); ++i) pos[order[i]] = i;
  for (NodeId id : order)
    for (NodeId in : g.node(id).inputs) {
      INFO(g.describe(id) << " reads " << g.describe(in));
      REQUIRE(pos.count(in));
      CHECK(pos[in] < pos[id]);
    }
  CHECK(pos.at(late) < pos.at(updates[0]));
  CHECK(pos.at(late_relu) < pos.at(updates[0]));
  // Every node the update depends on is there (the whole backward pass).
  CHECK(pos.count(grads[0]));
  CHECK(pos.count(g.at("w/sgd_velocity")));
}

TEST_CASE("grad: errors name the parameter or the loss") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 4});
  const NodeId y = g.placeholder("y", Shape{kBatch}, DType::i32);
  const NodeId w = g.parameter("w", Shape{4, 3}, Init::glorot_uniform(4, 3));
  const NodeId w_unused = g.parameter("w_unused", Shape{4, 3}, Init::zeros());
  const NodeId logits = ops::dense(g, x, w, kNoNode, "logits");
  const NodeId loss = ops::softmax_cross_entropy(g, logits, y, "loss");

  SUBCASE("a parameter the loss does not depend on") {
    const std::string msg = graph_error([&] { gg::grad(g, loss, {w, w_unused}); });
    CHECK_MSG(msg, "w_unused");
    CHECK_MSG(msg, "loss");
  }
  SUBCASE("a non-scalar 'loss'") {
    const std::string msg = graph_error([&] { gg::grad(g, logits, {w}); });
    CHECK_MSG(msg, "logits");
    CHECK_MSG(msg, "scalar");
  }
  SUBCASE("the labels take no gradient") {
    const std::string msg = graph_error([&] { gg::grad(g, loss, {y}); });
    CHECK_MSG(msg, "labels take no gradient");
  }
  SUBCASE("a good call gives one gradient per parameter, of its shape") {
    const auto grads = gg::grad(g, loss, {w, x});
    REQUIRE(grads.size() == 2);
    CHECK(g.node(grads[0]).shape == g.node(w).shape);
    CHECK(g.node(grads[1]).shape == g.node(x).shape);
    g.validate();
  }
}

// Regression: grad() names its nodes after the forward nodes; a second call on
// the same loss, or a retry after a call that threw, must neither clash nor
// leave nodes behind.
TEST_CASE("grad can be called twice on the same loss, and after a failed call") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 4});
  const NodeId y = g.placeholder("y", Shape{kBatch}, DType::i32);
  const NodeId w = g.parameter("w", Shape{4, 3}, Init::glorot_uniform(4, 3));
  const NodeId b = g.parameter("b", Shape{3}, Init::zeros());
  const NodeId unused = g.parameter("unused", Shape{3}, Init::zeros());
  const NodeId loss = ops::softmax_cross_entropy(g, ops::dense(g, x, w, b, "fc"), y, "loss");
  const int before = g.size();
  CHECK_THROWS_AS(gg::grad(g, loss, {w, unused}), GraphError);
  CHECK(g.size() == before);  // a failed call should leave the graph as it was
  CHECK_NOTHROW(gg::grad(g, loss, {w}));
  CHECK_NOTHROW(gg::grad(g, loss, {b}));
}

TEST_CASE("dump and to_dot show every node") {
  Graph g;
  const NodeId x = g.placeholder("input_x", Shape{kBatch, 4});
  const NodeId w = g.parameter("weight_w", Shape{4, 2}, Init::zeros());
  ops::relu(g, ops::dense(g, x, w, kNoNode, "fc_out"), "act_out");
  const std::string dump = g.dump();
  const std::string dot = g.to_dot();
  for (const char* name : {"input_x", "weight_w", "fc_out", "act_out"}) {
    CAPTURE(name);
    CHECK(contains(dump, name));
    CHECK(contains(dot, name));
  }
  CHECK(contains(dump, "placeholder"));
  CHECK(contains(dump, "[N,4]"));
  CHECK(std::count(dump.begin(), dump.end(), '\n') == g.size());
  CHECK(contains(dot, "digraph"));
  CHECK(contains(dot, "n0 -> n2"));  // input_x feeds fc_out
  CHECK(contains(dot, "n2 -> n3"));
  CHECK(g.describe(2) == "dense \"fc_out\" [N,2]");
}

TEST_CASE("autodiff sums the gradients of a value used more than once") {
  // Exact in float: dy values are small binary fractions.
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 5});
  const NodeId twice = gg::add(g, x, x, "twice");                       // d/dx = 2
  const NodeId thrice = gg::add(g, twice, x, "thrice");                 // d/dx = 3
  const NodeId mixed = gg::add(g, ops::relu(g, x, "r"), x, "mixed");    // d/dx = 1 + (x > 0)
  const NodeId dy = g.placeholder("dy", Shape{kBatch, 5});
  const NodeId g2 = gg::vjp(g, twice, dy, {x})[0];
  const NodeId g3 = gg::vjp(g, thrice, dy, {x})[0];
  const NodeId gm = gg::vjp(g, mixed, dy, {x})[0];

  auto backend = make_backend("cpu", g, BackendOptions{1, {}});
  auto exe = backend->compile({g2, g3, gm}, 2);
  const std::vector<float> xv{-1.5f, 0.25f, 2.0f, -0.125f, 3.0f, 0.5f, -2.0f, 1.0f, -0.75f, 0.0625f};
  const std::vector<float> dyv{0.5f, -0.25f, 1.0f, 0.75f, -1.0f, 0.125f, 2.0f, -0.5f, 0.25f, 1.5f};
  const Feed feeds[] = {{x, Shape{2, 5}, DType::f32, xv.data()}, {dy, Shape{2, 5}, DType::f32, dyv.data()}};
  exe->run(feeds);
  std::vector<float> v2(10), v3(10), vm(10);
  exe->fetch(g2, v2);
  exe->fetch(g3, v3);
  exe->fetch(gm, vm);
  for (size_t i = 0; i < 10; ++i) {
    CAPTURE(i);
    CHECK(v2[i] == 2 * dyv[i]);
    CHECK(v3[i] == 3 * dyv[i]);
    CHECK(vm[i] == (xv[i] > 0 ? 2 : 1) * dyv[i]);
  }
}

// ---------------------------------------------------------------------------
// The memory planner.

namespace {

// Checks a plan against lifetimes derived here, independently of the planner:
// a value is alive from its node's position to the last position that reads it
// (directly or through aliases of it), or to the end when pinned. Returns the
// number of arena values checked.
int check_plan(const Graph& g, const std::vector<NodeId>& schedule, const std::vector<NodeId>& pinned,
               const std::function<int64_t(const Node&)>& bytes, const std::function<NodeId(const Node&)>& alias,
               int64_t alignment, const MemoryPlan& plan) {
  const auto n = static_cast<size_t>(g.size());
  REQUIRE(plan.offset.size() == n);
  std::vector<NodeId> root(n);
  for (size_t i = 0; i < n; ++i) root[i] = NodeId(i);
  for (NodeId id : schedule)
    if (NodeId a = alias(g.node(id)); a != kNoNode) root[size_t(id)] = root[size_t(a)];
  std::vector<int> first(n, -1), last(n, -1);
  for (int p = 0; p < int(schedule.size()); ++p) {
    const NodeId id = schedule[size_t(p)];
    if (root[size_t(id)] == id) first[size_t(id)] = p;
    last[size_t(root[size_t(id)])] = std::max(last[size_t(root[size_t(id)])], p);
    for (NodeId in : g.node(id).inputs) last[size_t(root[size_t(in)])] = std::max(last[size_t(root[size_t(in)])], p);
  }
  for (NodeId p : pinned) last[size_t(root[size_t(p)])] = std::numeric_limits<int>::max();

  struct Value {
    NodeId id;
    int64_t off, size;
    int first, last;
  };
  std::vector<Value> values;
  for (NodeId id : schedule) {
    CAPTURE(g.describe(id));
    if (root[size_t(id)] != id) {  // an alias shares its root's bytes
      CHECK(plan.offset[size_t(id)] == plan.offset[size_t(root[size_t(id)])]);
      continue;
    }
    const int64_t size = bytes(g.node(id));
    if (size <= 0) {
      CHECK(plan.offset[size_t(id)] == -1);
      continue;
    }
    const int64_t off = plan.offset[size_t(id)];
    CHECK(off >= 0);
    CHECK(off % alignment == 0);
    CHECK(off + size <= plan.total_bytes);
    values.push_back({id, off, size, first[size_t(id)], last[size_t(id)]});
  }
  for (size_t i = 0; i < values.size(); ++i)
    for (size_t j = i + 1; j < values.size(); ++j) {
      const Value &a = values[i], &b = values[j];
      const bool both_alive = a.first <= b.last && b.first <= a.last;
      const bool share_bytes = a.off < b.off + b.size && b.off < a.off + a.size;
      if (both_alive && share_bytes) {
        INFO(g.describe(a.id) << " [" << a.off << "," << a.off + a.size << ") alive " << a.first << ".." << a.last << " and "
                              << g.describe(b.id) << " [" << b.off << "," << b.off + b.size << ") alive " << b.first << ".."
                              << b.last);
        CHECK(false);
      }
    }
  return static_cast<int>(values.size());
}

int64_t compute_bytes(const Node& n, int64_t batch) {
  return n.op->role() == OpRole::compute ? n.shape.numel(batch) * 4 : 0;
}

}  // namespace

TEST_CASE("plan_memory: a chain needs two buffers, reused alternately") {
  Graph g;
  NodeId v = g.placeholder("x", Shape{kBatch, 16});
  std::vector<NodeId> chain;
  for (int i = 0; i < 6; ++i) chain.push_back(v = ops::relu(g, v, "r" + std::to_string(i)));
  const auto schedule = g.schedule({v});
  auto bytes = [](const Node& n) { return compute_bytes(n, 2); };  // 128 bytes each
  auto no_alias = [](const Node&) { return kNoNode; };
  const MemoryPlan plan = plan_memory(g, schedule, {v}, bytes, no_alias, 64);
  CHECK(check_plan(g, schedule, {v}, bytes, no_alias, 64, plan) == 6);
  CHECK(plan.total_bytes == 256);
  // r0 and r1 are alive together, so the third value must reuse r0's bytes.
  CHECK(plan.offset[size_t(chain[0])] != plan.offset[size_t(chain[1])]);
  CHECK(plan.offset[size_t(chain[2])] == plan.offset[size_t(chain[0])]);
  CHECK(plan.offset[size_t(g.at("x"))] == -1);  // a leaf: not in the arena

  SUBCASE("a pinned value keeps its bytes to the end") {
    const std::vector<NodeId> pinned{chain[0], v};
    const MemoryPlan p2 = plan_memory(g, schedule, pinned, bytes, no_alias, 64);
    CHECK(check_plan(g, schedule, pinned, bytes, no_alias, 64, p2) == 6);
    CHECK(p2.total_bytes == 384);
  }
  SUBCASE("sizes are rounded up to the alignment") {
    auto odd = [](const Node& n) { return n.op->role() == OpRole::compute ? int64_t(20) : int64_t(0); };
    const MemoryPlan p3 = plan_memory(g, schedule, {v}, odd, no_alias, 256);
    CHECK(check_plan(g, schedule, {v}, odd, no_alias, 256, p3) == 6);
    CHECK(p3.total_bytes == 2 * 256);
  }
}

TEST_CASE("plan_memory: a diamond keeps its shared input alive; an alias extends its root's life") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 8});
  const NodeId a = ops::relu(g, x, "a");
  const NodeId b = ops::relu(g, a, "b");
  const NodeId c = ops::relu(g, b, "c");
  const NodeId d = gg::add(g, a, c, "d");  // a is read here: alive across b and c
  const NodeId e = ops::reshape(g, d, Shape{kBatch, 2, 4}, "e");
  const NodeId f = ops::relu(g, ops::relu(g, x, "f0"), "f");
  const NodeId h = gg::add(g, ops::reshape(g, e, Shape{kBatch, 8}, "e_flat"), f, "h");
  const auto schedule = g.schedule({h});
  auto bytes = [](const Node& n) { return std::string(n.op->name()) == "reshape" ? 0 : compute_bytes(n, 4); };
  auto alias = [](const Node& n) { return std::string(n.op->name()) == "reshape" ? n.inputs[0] : kNoNode; };
  const MemoryPlan plan = plan_memory(g, schedule, {h}, bytes, alias, 64);
  CHECK(check_plan(g, schedule, {h}, bytes, alias, 64, plan) == 7);
  // a, b and c are alive at once.
  const std::set<int64_t> abc{plan.offset[size_t(a)], plan.offset[size_t(b)], plan.offset[size_t(c)]};
  CHECK(abc.size() == 3);
  // The reshapes share d's bytes, and d lives (through them) until h.
  CHECK(plan.offset[size_t(e)] == plan.offset[size_t(d)]);
  CHECK(plan.offset[size_t(g.at("e_flat"))] == plan.offset[size_t(d)]);
  CHECK(plan.offset[size_t(f)] != plan.offset[size_t(d)]);
  // Bytes are reused: fewer than one buffer per value.
  CHECK(plan.total_bytes < 7 * 128);
}

TEST_CASE("plan_memory: in place, random graphs run on the planned arena read every input intact") {
  // Executes each schedule on an arena of stamps: a node checks that its
  // inputs' bytes still hold their values' stamps, then stamps its own bytes
  // (an in-place node: its input's). Pinned values must survive to the end.
  int merged = 0;
  int64_t total_plain = 0, total_in_place = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Graph g;
    std::vector<NodeId> nodes{g.placeholder("x", Shape{kBatch, 4})};
    const int count = 8 + int(rng() % 30);
    for (int i = 0; i < count; ++i) {
      const NodeId a = nodes[rng() % nodes.size()];
      const NodeId b = nodes[nodes.size() - 1 - rng() % std::min<size_t>(nodes.size(), 3)];
      switch (rng() % 4) {
        case 0: case 1: nodes.push_back(ops::relu(g, b)); break;
        case 2: nodes.push_back(gg::add(g, b, a)); break;
        default: nodes.push_back(ops::reshape(g, ops::reshape(g, b, Shape{kBatch, 2, 2}), Shape{kBatch, 4})); break;
      }
    }
    std::vector<NodeId> targets{nodes.back()}, pinned{nodes.back()};
    for (int k = 0; k < 2; ++k) {
      const NodeId t = nodes[rng() % nodes.size()];
      targets.push_back(t);
      if (rng() % 2) pinned.push_back(t);
    }
    const auto schedule = g.schedule(targets);
    std::vector<int64_t> size(size_t(g.size()));
    for (auto& sz : size) sz = rng() % 3 ? 96 : 32;  // mostly equal sizes, so in place is often possible
    auto is_reshape = [](const Node& n) { return std::string(n.op->name()) == "reshape"; };
    auto bytes = [&](const Node& n) { return n.op->role() == OpRole::compute && !is_reshape(n) ? size[size_t(n.id)] : int64_t(0); };
    auto alias = [&](const Node& n) { return is_reshape(n) ? n.inputs[0] : kNoNode; };
    auto in_place = [&](const Node& n) { return n.op->role() == OpRole::compute && !is_reshape(n); };
    const MemoryPlan plain = plan_memory(g, schedule, pinned, bytes, alias, 1);
    const MemoryPlan plan = plan_memory(g, schedule, pinned, bytes, alias, 1, in_place);
    // First fit is a heuristic: in place may fragment one plan, but must save overall.
    total_plain += plain.total_bytes, total_in_place += plan.total_bytes;

    std::vector<NodeId> root(size_t(g.size()));
    for (NodeId id = 0; id < g.size(); ++id) root[size_t(id)] = is_reshape(g.node(id)) ? root[size_t(g.node(id).inputs[0])] : id;
    std::vector<int> arena(size_t(plan.total_bytes), -1);
    auto intact = [&](NodeId v) {
      const NodeId r = root[size_t(v)];
      const int64_t off = plan.offset[size_t(r)], n = bytes(g.node(r));
      if (n == 0) return true;  // a leaf: not in the arena
      return std::all_of(arena.begin() + off, arena.begin() + off + n, [&](int s) { return s == r; });
    };
    for (NodeId id : schedule) {
      const Node& node = g.node(id);
      CAPTURE(g.describe(id));
      for (NodeId in : node.inputs) CHECK(intact(in));
      if (bytes(node) > 0) {
        const int64_t off = plan.offset[size_t(id)];
        if (!node.inputs.empty() && off == plan.offset[size_t(root[size_t(node.inputs[0])])]) ++merged;
        std::fill(arena.begin() + off, arena.begin() + off + bytes(node), id);
      }
    }
    for (NodeId p : pinned) CHECK(intact(p));
  }
  CHECK(merged > 20);  // in place did happen, often
  CHECK(total_in_place < total_plain);
  MESSAGE("arena bytes over 60 graphs: " << total_in_place << " in place, " << total_plain << " without");
}

TEST_CASE("plan_memory: random graphs never overlap live values") {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Graph g;
    std::vector<NodeId> nodes{g.placeholder("x", Shape{kBatch, 4}), g.placeholder("z", Shape{kBatch, 4})};
    const int count = 10 + int(rng() % 30);
    for (int i = 0; i < count; ++i) {
      const NodeId a = nodes[rng() % nodes.size()];
      // Prefer recent nodes, as real graphs do, but reach back sometimes.
      const NodeId b = nodes[nodes.size() - 1 - rng() % std::min<size_t>(nodes.size(), 4)];
      switch (rng() % 3) {
        case 0: nodes.push_back(ops::relu(g, b)); break;
        case 1: nodes.push_back(gg::add(g, a, b)); break;
        default: nodes.push_back(ops::reshape(g, b, Shape{kBatch, 2, 2})); nodes.back() = ops::reshape(g, nodes.back(), Shape{kBatch, 4}); break;
      }
    }
    std::vector<NodeId> targets{nodes.back()}, pinned{nodes.back()};
    for (int k = 0; k < 3; ++k) {
      const NodeId t = nodes[rng() % nodes.size()];
      targets.push_back(t);
      if (rng() % 2) pinned.push_back(t);
    }
    const auto schedule = g.schedule(targets);
    // Arbitrary sizes per node, so that first-fit has gaps to fill.
    std::vector<int64_t> size(size_t(g.size()));
    for (auto& s : size) s = 1 + int64_t(rng() % 500);
    auto bytes = [&](const Node& n) {
      return n.op->role() == OpRole::compute && std::string(n.op->name()) != "reshape" ? size[size_t(n.id)] : int64_t(0);
    };
    auto alias = [](const Node& n) { return std::string(n.op->name()) == "reshape" ? n.inputs[0] : kNoNode; };
    for (int64_t alignment : {int64_t(1), int64_t(64)}) {
      CAPTURE(alignment);
      const MemoryPlan plan = plan_memory(g, schedule, pinned, bytes, alias, alignment);
      check_plan(g, schedule, pinned, bytes, alias, alignment, plan);
      int64_t sum = 0;
      for (NodeId id : schedule) sum += (bytes(g.node(id)) + alignment - 1) / alignment * alignment;
      CHECK(plan.total_bytes <= sum);
    }
  }
}

}  // TEST_SUITE
