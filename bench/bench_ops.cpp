// Every op of the MNIST CNN, forward and backward, at the net's shapes, on
// every backend that can run here, at batch 1, 32 and 128:
//
//   conv2d_1_forward/cpu/batch:128   conv2d_1_backward/vulkan/batch:1   ...
//
// Each benchmark is a tiny graph built with the public API: the op with
// placeholders for its data inputs and parameters for its weights (forward),
// or the nodes autodiff's vjp appends for it (backward: e.g. for conv2d_2
// conv2d_backward_input + conv2d_backward_weight + bias_grad; the label lists
// them). A timed iteration is one Executable::run (+ Backend::synchronize).
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/eltwise.h>
#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/ops.h>

#include "bench_util.h"
#include "mnist_shapes.h"

namespace gg::bench {
namespace {
using namespace mnist;

enum class Dir { forward, backward };

// One benchmark case: builds its graph for one direction and returns the targets.
struct OpCase {
  std::string name;  // benchmark prefix, e.g. "conv2d_2"
  std::function<std::vector<NodeId>(Graph&, Dir)> build;
  std::vector<int64_t> batches = {std::begin(mnist::kBatches), std::end(mnist::kBatches)};
};

// y's gradient nodes as autodiff creates them, from an upstream dy placeholder.
std::vector<NodeId> targets(Graph& g, NodeId y, const std::vector<NodeId>& wrt, Dir dir) {
  if (dir == Dir::forward) return {y};
  const NodeId dy = g.placeholder("dy", g.node(y).shape);
  return vjp(g, y, dy, wrt);
}

NodeId image(Graph& g, const char* name, int64_t c, int64_t hw) { return g.placeholder(name, Shape{kBatch, c, hw, hw}); }

OpCase conv_case(std::string name, int64_t c, int64_t oc, int64_t hw, bool input_grad) {
  return {name,
          [=](Graph& g, Dir d) {
            const NodeId x = image(g, "x", c, hw);
            const NodeId w = g.parameter("w", Shape{oc, c, kKernel, kKernel}, Init::glorot_uniform(double(c * 9), double(oc * 9)));
            const NodeId b = g.parameter("b", Shape{oc}, Init::zeros());
            const NodeId y = ops::conv2d(g, x, w, b);
            // conv2d_1 reads the data: autodiff makes no input gradient for it.
            return targets(g, y, input_grad ? std::vector<NodeId>{x, w, b} : std::vector<NodeId>{w, b}, d);
          }};
}

OpCase dense_case(std::string name, int64_t in, int64_t out) {
  return {name,
          [=](Graph& g, Dir d) {
            const NodeId x = g.placeholder("x", Shape{kBatch, in});
            const NodeId w = g.parameter("w", Shape{in, out}, Init::glorot_uniform(double(in), double(out)));
            const NodeId b = g.parameter("b", Shape{out}, Init::zeros());
            return targets(g, ops::dense(g, x, w, b), {x, w, b}, d);
          }};
}

// [N, item...]: an item shape with the batch dimension in front.
Shape batched(const Shape& item) {
  std::vector<int64_t> dims{kBatch};
  dims.insert(dims.end(), item.dims().begin(), item.dims().end());
  return Shape(dims);
}

// relu's gradient reads relu's output y; vjp would make the backward graph run
// the forward too, so y is a placeholder here and relu_backward is built as
// ReluOp::grad builds it.
OpCase relu_case(std::string name, Shape item) {
  const Shape shape = batched(item);
  return {name,
          [=](Graph& g, Dir d) {
            const NodeId x = g.placeholder("x", shape);
            if (d == Dir::forward) return std::vector<NodeId>{ops::relu(g, x)};
            return std::vector<NodeId>{g.add(ops::op_for(ops::id::relu_backward), {g.placeholder("dy", shape), x})};
          }};
}

OpCase dropout_case(std::string name, Shape item, double rate) {
  const Shape shape = batched(item);
  return {name,
          [=](Graph& g, Dir d) {
            const NodeId x = g.placeholder("x", shape);
            const NodeId step = g.placeholder("step", Shape{1}, DType::i32);
            const NodeId base = g.placeholder("sample_base", Shape{1}, DType::i32);
            return targets(g, ops::dropout(g, x, step, base, rate, 7), {x}, d);
          }};
}

OpCase pool_case() {
  return {"max_pool2d",
          [](Graph& g, Dir d) {
            const NodeId x = image(g, "x", kConv2, kConv2Out);
            return targets(g, ops::max_pool2d(g, x, kPool), {x}, d);
          }};
}

OpCase loss_case() {
  return {"softmax_cross_entropy",
          [](Graph& g, Dir d) {
            const NodeId logits = g.placeholder("logits", Shape{kBatch, kClasses});
            const NodeId labels = g.placeholder("labels", Shape{kBatch}, DType::i32);
            const NodeId loss = ops::softmax_cross_entropy(g, logits, labels);
            if (d == Dir::forward) return std::vector<NodeId>{loss};
            return grad(g, loss, {logits});  // d loss / d logits, seeded with 1 as training does
          }};
}

// An op of the table on one input of [N, 64, 32] (unary), two (binary: the
// same shape, and a [32] row broadcast), at batch 128 only: 262,144 elements.
OpCase table_case(std::string name, std::function<NodeId(Graph&, NodeId, NodeId)> op, Shape b_item = Shape{64, 32}) {
  return {std::move(name),
          [=](Graph& g, Dir d) {
            const NodeId x = g.placeholder("x", batched(Shape{64, 32}));
            const NodeId y = g.placeholder("y", b_item.rank() == 2 ? batched(b_item) : b_item);
            const NodeId out = op(g, x, y);
            std::vector<NodeId> wrt;  // the f32 placeholders the op's output depends on
            const std::vector<NodeId> needed = g.schedule({out});
            for (NodeId v : {x, y})
              if (std::find(needed.begin(), needed.end(), v) != needed.end()) wrt.push_back(v);
            return targets(g, out, wrt, d);
          },
          {128}};
}

// Every element-wise op of eltwise.def, every reduction (benchmarks of the
// table's other families are added beside their ops).
std::vector<OpCase> table_cases() {
  std::vector<OpCase> out;
  for (const ops::UnaryInfo& u : ops::unary_ops()) {
    const OpId op = u.op;
    out.push_back(table_case(std::string(u.name), [op](Graph& g, NodeId x, NodeId) {
      switch (op) {  // the attributes' PyTorch defaults
        case ops::id::leaky_relu: return ops::leaky_relu(g, x);
        case ops::id::elu: return ops::elu(g, x);
        case ops::id::softplus: return ops::softplus(g, x);
        case ops::id::clip: return ops::clip(g, x, -0.5, 0.5);
        default: return ops::unary(g, op, x);
      }
    }));
  }
  for (const ops::BinaryInfo& b : ops::binary_ops()) {
    const OpId op = b.op;
    auto f = [op](Graph& g, NodeId x, NodeId y) { return ops::binary(g, op, x, y); };
    out.push_back(table_case(std::string(b.name), f));
    out.push_back(table_case(std::string(b.name) + "_broadcast", f, Shape{32}));
  }
  out.push_back(table_case("reduce_sum_rows", [](Graph& g, NodeId x, NodeId) { return ops::reduce_sum(g, x, {-1}); }));
  out.push_back(table_case("reduce_mean_batch", [](Graph& g, NodeId x, NodeId) { return ops::reduce_mean(g, x, {0}); }));
  out.push_back(table_case("reduce_max_items", [](Graph& g, NodeId x, NodeId) { return ops::reduce_max(g, x, {1, 2}); }));
  out.push_back(table_case("broadcast_to", [](Graph& g, NodeId, NodeId y) {  // [N,1,32] -> [N,64,32]
    return ops::broadcast_to(g, y, Shape{kBatch, 64, 32});
  }, Shape{1, 32}));
  // Shape ops, softmax over an inner axis, batched matmul, on the same [N,64,32].
  out.push_back(table_case("transpose", [](Graph& g, NodeId x, NodeId) { return ops::transpose(g, x, {0, 2, 1}); }));
  out.push_back(table_case("concat", [](Graph& g, NodeId x, NodeId y) { return ops::concat(g, {x, y}, 1); }));
  out.push_back(table_case("slice", [](Graph& g, NodeId x, NodeId) {
    return ops::slice(g, x, {ops::SliceSpec{.axis = 1, .start = 1, .step = 2}});
  }));
  out.push_back(table_case("softmax_axis1", [](Graph& g, NodeId x, NodeId) { return ops::softmax(g, x, 1); }));
  out.push_back(table_case("log_softmax", [](Graph& g, NodeId x, NodeId) { return ops::log_softmax(g, x, -1); }));
  out.push_back(table_case("matmul_batched", [](Graph& g, NodeId x, NodeId) {  // [N,64,32] x [32,48]
    return ops::matmul(g, x, g.parameter("w", Shape{32, 48}, Init::glorot_uniform(32, 48)));
  }));
  // The losses, on [N, 2048] scores (x and y viewed flat).
  auto flat = [](Graph& g, NodeId v) { return ops::reshape(g, v, Shape{kBatch, 2048}); };
  out.push_back(table_case("bce_with_logits", [flat](Graph& g, NodeId x, NodeId y) {
    return ops::bce_with_logits(g, flat(g, x), ops::sigmoid(g, flat(g, y)));
  }));
  out.push_back(table_case("softmax_cross_entropy_soft", [flat](Graph& g, NodeId x, NodeId y) {
    return ops::softmax_cross_entropy_soft(g, flat(g, x), ops::softmax(g, flat(g, y)));
  }));
  out.push_back(table_case("nll_loss", [flat](Graph& g, NodeId x, NodeId) {
    return ops::nll_loss(g, ops::log_softmax(g, flat(g, x)), g.placeholder("labels", Shape{kBatch}, DType::i32));
  }));
  out.push_back(table_case("mse", [](Graph& g, NodeId x, NodeId y) { return ops::mse(g, x, y); }));
  // Pooling at conv2d_2's output shape, [N,32,24,24].
  for (const char* pool : {"avg_pool2d", "global_avg_pool2d"}) {
    const bool global = std::string(pool) == "global_avg_pool2d";
    out.push_back({pool,
                   [global](Graph& g, Dir d) {
                     const NodeId x = image(g, "x", kConv2, kConv2Out);
                     return targets(g, global ? ops::global_avg_pool2d(g, x) : ops::avg_pool2d(g, x, kPool), {x}, d);
                   },
                   {128}});
  }
  return out;
}

// The MNIST net's ops in the order the training step runs them, then the table's.
std::vector<OpCase> op_cases() {
  std::vector<OpCase> mnist_ops = {conv_case("conv2d_1", 1, kConv1, kImage, false),
          relu_case("relu_1", Shape{kConv1, kConv1Out, kConv1Out}),
          conv_case("conv2d_2", kConv1, kConv2, kConv1Out, true),
          relu_case("relu_2", Shape{kConv2, kConv2Out, kConv2Out}),
          pool_case(),
          dropout_case("dropout_1", Shape{kConv2, kPoolOut, kPoolOut}, kDropout1),
          dense_case("dense_1", kFlat, kHidden),
          relu_case("relu_3", Shape{kHidden}),
          dropout_case("dropout_2", Shape{kHidden}, kDropout2),
          dense_case("dense_2", kHidden, kClasses),
          loss_case()};
  for (OpCase& c : table_cases()) mnist_ops.push_back(std::move(c));
  return mnist_ops;
}

// The FLOPs of a case's run, as its ops count them.
double case_flops(const OpCase& c, Dir dir, int64_t batch) {
  Graph g(0);
  const std::vector<NodeId> t = c.build(g, dir);
  return graph_flops(g, t, batch);
}

// The op names of the scheduled compute nodes, for the benchmark's label.
std::string op_list(const Program& p) {
  std::string s;
  for (NodeId id : p.graph->schedule(p.targets)) {
    const Node& n = p.graph->node(id);
    if (n.op->role() == OpRole::compute) s += (s.empty() ? "" : "+") + std::string(n.op->name());
  }
  return s;
}

void run_case(benchmark::State& state, const OpCase& c, Dir dir, const std::string& backend, int64_t batch,
              const Options& options, const std::string& key) {
  Program* p = nullptr;
  try {
    p = &cached_program(key, [&] {
      auto g = std::make_unique<Graph>(/*seed=*/0);
      std::vector<NodeId> t = c.build(*g, dir);
      return compile_program(std::move(g), std::move(t), backend, batch, options);
    });
  } catch (const std::exception& e) {
    drop_cached_program();
    state.SkipWithError(e.what());
    return;
  }
  const double flop = graph_flops(*p->graph, p->targets, batch);
  state.SetLabel(op_list(*p));
  timed_loop(state, *p, batch, flop, graph_bytes(*p->graph, p->targets, batch), warm_up_first(backend, flop));
}

}  // namespace
}  // namespace gg::bench

int main(int argc, char** argv) {
  using namespace gg::bench;
  static const Options options = init(argc, argv, "bench_ops",
                                      "Names: <op>_<forward|backward>/<backend>/batch:<N>; e.g. --benchmark_filter=/cpu/");
  static const std::vector<OpCase> cases = op_cases();
  for (const std::string& backend : runnable_backends("bench_ops")) {
    for (const OpCase& c : cases) {
      for (Dir dir : {Dir::forward, Dir::backward}) {
        for (int64_t batch : c.batches) {
          const std::string name =
              c.name + (dir == Dir::forward ? "_forward/" : "_backward/") + backend + "/batch:" + std::to_string(batch);
          auto* b = benchmark::RegisterBenchmark(name.c_str(), [&c, dir, backend, batch, name](benchmark::State& s) {
            run_case(s, c, dir, backend, batch, options, name);
          });
          b->Unit(benchmark::kMicrosecond);
          if (backend != "cpu") b->Iterations(vulkan_iterations(case_flops(c, dir, batch)));
        }
      }
    }
  }
  run_benchmarks();
  drop_cached_program();
  benchmark::Shutdown();
  return 0;
}
