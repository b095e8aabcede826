// The data-parallel pieces that need no MPI: the bucketing pass, the scheduler
// placing each all-reduce start right after its bucket's last gradient and its
// wait right before the first use, and the CPU kernels driven through the
// Communicator seam (a stand-in for a second rank that holds the same values).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/data_parallel.h>
#include <graphgrad/ops/ops.h>

#include "mirrored_pair.h"

using namespace gg;

namespace {

struct Mlp {
  Graph g{3};
  NodeId x, y, w1, b1, w2, b2, loss;
  std::vector<NodeId> params, grads;
  Mlp() {
    x = g.placeholder("x", Shape{kBatch, 6});
    y = g.placeholder("y", Shape{kBatch}, DType::i32);
    w1 = g.parameter("w1", Shape{6, 16}, Init::uniform(-0.5, 0.5));
    b1 = g.parameter("b1", Shape{16}, Init::uniform(-0.1, 0.1));
    w2 = g.parameter("w2", Shape{16, 4}, Init::uniform(-0.5, 0.5));
    b2 = g.parameter("b2", Shape{4}, Init::uniform(-0.1, 0.1));
    NodeId h = ops::relu(g, ops::dense(g, x, w1, b1), "h");
    loss = ops::softmax_cross_entropy(g, ops::dense(g, h, w2, b2, "logits"), y, "loss");
    params = {w1, b1, w2, b2};
    grads = grad(g, loss, params);
  }
};

size_t position(const std::vector<NodeId>& order, NodeId id) {
  return static_cast<size_t>(std::find(order.begin(), order.end(), id) - order.begin());
}

}  // namespace

TEST_SUITE("data_parallel") {

TEST_CASE("the pass buckets gradients in backward order, and the scheduler overlaps each bucket with what follows") {
  Mlp m;
  const NodeId weight = m.g.placeholder("grad_weight", Shape{1});
  // w2 and b2 (68 floats) are computed first; 68 floats per bucket closes the first after them.
  const auto reduced = ops::allreduce_gradients(m.g, m.grads, weight, {.bucket_bytes = 68 * 4});
  REQUIRE(reduced.size() == m.grads.size());
  for (size_t i = 0; i < reduced.size(); ++i) CHECK(m.g.node(reduced[i]).shape == m.g.node(m.grads[i]).shape);

  std::vector<NodeId> starts, waits;
  for (const Node& n : m.g.nodes()) {
    if (std::string(n.op->name()) == "allreduce_start") starts.push_back(n.id);
    if (std::string(n.op->name()) == "allreduce_wait") waits.push_back(n.id);
  }
  REQUIRE(starts.size() == 3);  // [w2, b2], then w1 (384 bytes: a bucket of its own), then b1
  REQUIRE(waits.size() == 3);
  // The first bucket holds the last layer's gradients (w2 and b2).
  const auto& first = m.g.node(starts[0]).inputs;
  CHECK(std::find(first.begin(), first.end(), m.grads[2]) != first.end());
  CHECK(std::find(first.begin(), first.end(), m.grads[3]) != first.end());
  CHECK(m.g.node(starts[0]).shape == Shape{16 * 4 + 4});

  const std::vector<NodeId> order = m.g.schedule(reduced);
  for (NodeId s : starts) {  // right after its last input
    size_t last = 0;
    for (NodeId in : m.g.node(s).inputs) last = std::max(last, position(order, in));
    CHECK(position(order, s) == last + 1);
  }
  // The first bucket leaves before the first layer's weight gradient is computed: overlap.
  CHECK(position(order, starts[0]) < position(order, m.grads[0]));
  for (NodeId w : waits) {  // right before its first consumer
    const size_t at = position(order, w);
    REQUIRE(at + 1 < order.size());
    const auto& ins = m.g.node(order[at + 1]).inputs;
    CHECK(std::find(ins.begin(), ins.end(), w) != ins.end());
    CHECK(at > position(order, m.grads[0]));  // and after the whole backward pass
  }
}

TEST_CASE("the CPU backend runs the all-reduce nodes through the communicator: weighted sum, and mean") {
  Mlp m;
  const NodeId weight = m.g.placeholder("grad_weight", Shape{1});
  const auto summed = ops::allreduce_gradients(m.g, m.grads, weight, {.bucket_bytes = 68 * 4});
  const auto averaged = ops::allreduce_gradients(m.g, m.grads, kNoNode, {.bucket_bytes = 1 << 20});
  auto comm = std::make_shared<test::MirroredPair>();
  auto backend = make_backend("cpu", m.g, {.threads = 1, .comm = comm});
  std::vector<NodeId> targets = m.grads;
  targets.insert(targets.end(), summed.begin(), summed.end());
  targets.insert(targets.end(), averaged.begin(), averaged.end());
  auto exe = backend->compile(targets, 5);

  std::vector<float> xs(5 * 6);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = std::sin(float(i));
  const std::vector<int32_t> ys{0, 3, 1, 2, 3};
  const float w = 0.25f;  // this rank's share of the global batch
  const Feed feeds[] = {{m.x, Shape{5, 6}, DType::f32, xs.data()},
                        {m.y, Shape{5}, DType::i32, ys.data()},
                        {weight, Shape{1}, DType::f32, &w}};
  exe->run(feeds);
  for (size_t i = 0; i < m.grads.size(); ++i) {
    const size_t n = static_cast<size_t>(m.g.node(m.grads[i]).shape.numel());
    std::vector<float> g(n), s(n), a(n);
    exe->fetch(m.grads[i], g);
    exe->fetch(summed[i], s);
    exe->fetch(averaged[i], a);
    for (size_t j = 0; j < n; ++j) {
      CHECK(s[j] == doctest::Approx(2 * w * g[j]).epsilon(1e-6));  // both ranks' weighted gradients, summed
      CHECK(a[j] == doctest::Approx(g[j]).epsilon(1e-6));          // (g + g) / 2
    }
  }
  // Four all-reduces per run (three buckets, one for the mean), under distinct tags, each
  // started before it is waited for, and none left unwaited.
  REQUIRE(comm->events.size() == 8);
  for (const char* tag : {"0", "1", "2", "3"}) {
    const auto start = std::find(comm->events.begin(), comm->events.end(), std::string("start ") + tag);
    const auto wait = std::find(comm->events.begin(), comm->events.end(), std::string("wait ") + tag);
    CHECK(start < wait);
    CHECK(wait != comm->events.end());
  }
  CHECK(comm->started.empty());
}

}  // TEST_SUITE
