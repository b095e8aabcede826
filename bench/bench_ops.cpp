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
#include <functional>
#include <string>
#include <vector>

#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/ops.h>

#include "bench_util.h"
#include "flops.h"
#include "mnist_shapes.h"

namespace gg::bench {
namespace {
using namespace mnist;

enum class Dir { forward, backward };

// One benchmark case: builds its graph for one direction and returns the targets.
struct OpCase {
  std::string name;  // benchmark prefix, e.g. "conv2d_2"
  std::function<std::vector<NodeId>(Graph&, Dir)> build;
  std::function<double(int64_t batch, Dir)> flop;  // from flops.h
};

// y's gradient nodes as autodiff creates them, from an upstream dy placeholder.
std::vector<NodeId> targets(Graph& g, NodeId y, const std::vector<NodeId>& wrt, Dir dir) {
  if (dir == Dir::forward) return {y};
  const NodeId dy = g.placeholder("dy", g.node(y).shape);
  return vjp(g, y, dy, wrt);
}

NodeId image(Graph& g, const char* name, int64_t c, int64_t hw) { return g.placeholder(name, Shape{kBatch, c, hw, hw}); }

OpCase conv_case(std::string name, int64_t c, int64_t oc, int64_t hw, bool input_grad) {
  const int64_t o = hw - kKernel + 1;
  return {name,
          [=](Graph& g, Dir d) {
            const NodeId x = image(g, "x", c, hw);
            const NodeId w = g.parameter("w", Shape{oc, c, kKernel, kKernel}, Init::glorot_uniform(double(c * 9), double(oc * 9)));
            const NodeId b = g.parameter("b", Shape{oc}, Init::zeros());
            const NodeId y = ops::conv2d(g, x, w, b);
            // conv2d_1 reads the data: autodiff makes no input gradient for it.
            return targets(g, y, input_grad ? std::vector<NodeId>{x, w, b} : std::vector<NodeId>{w, b}, d);
          },
          [=](int64_t n, Dir d) {
            if (d == Dir::forward) return flops::conv2d_forward(n, c, oc, kKernel, o, o);
            return (input_grad ? flops::conv2d_backward_input(n, c, oc, kKernel, o, o) : 0.0) +
                   flops::conv2d_backward_weight(n, c, oc, kKernel, o, o) + flops::bias_grad(n * oc * o * o);
          }};
}

OpCase dense_case(std::string name, int64_t in, int64_t out) {
  return {name,
          [=](Graph& g, Dir d) {
            const NodeId x = g.placeholder("x", Shape{kBatch, in});
            const NodeId w = g.parameter("w", Shape{in, out}, Init::glorot_uniform(double(in), double(out)));
            const NodeId b = g.parameter("b", Shape{out}, Init::zeros());
            return targets(g, ops::dense(g, x, w, b), {x, w, b}, d);
          },
          [=](int64_t n, Dir d) {
            return d == Dir::forward ? flops::dense_forward(n, in, out) : flops::dense_backward(n, in, out, true);
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
          },
          [=](int64_t n, Dir) { return flops::relu(n * item.numel()); }};
}

OpCase dropout_case(std::string name, Shape item, double rate) {
  const Shape shape = batched(item);
  return {name,
          [=](Graph& g, Dir d) {
            const NodeId x = g.placeholder("x", shape);
            const NodeId step = g.placeholder("step", Shape{1}, DType::i32);
            const NodeId base = g.placeholder("sample_base", Shape{1}, DType::i32);
            return targets(g, ops::dropout(g, x, step, base, rate, 7), {x}, d);
          },
          [=](int64_t n, Dir) { return flops::dropout(n * item.numel()); }};
}

OpCase pool_case() {
  return {"max_pool2d",
          [](Graph& g, Dir d) {
            const NodeId x = image(g, "x", kConv2, kConv2Out);
            return targets(g, ops::max_pool2d(g, x, kPool), {x}, d);
          },
          [](int64_t n, Dir d) {
            const int64_t elems = n * kConv2 * kConv2Out * kConv2Out;
            return d == Dir::forward ? flops::max_pool2d_forward(elems) : flops::max_pool2d_backward(elems);
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
          },
          [](int64_t n, Dir d) {
            return d == Dir::forward ? flops::softmax_cross_entropy_forward(n * kClasses)
                                     : flops::softmax_cross_entropy_backward(n * kClasses);
          }};
}

// In the order the training step runs them.
std::vector<OpCase> op_cases() {
  return {conv_case("conv2d_1", 1, kConv1, kImage, false),
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
  const double flop = c.flop(batch, dir);
  Program* p = nullptr;
  try {
    p = &cached_program(key, [&] {
      auto g = std::make_unique<Graph>(/*seed=*/0);
      std::vector<NodeId> t = c.build(*g, dir);
      auto prog = compile_program(std::move(g), std::move(t), backend, batch, options);
      warn_if_flops_differ("bench_ops", key, flop, *prog, batch);
      return prog;
    });
  } catch (const std::exception& e) {
    drop_cached_program();
    state.SkipWithError(e.what());
    return;
  }
  state.SetLabel(op_list(*p));
  timed_loop(state, *p, batch, flop, warm_up_first(backend, flop));
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
        for (int64_t batch : mnist::kBatches) {
          const std::string name =
              c.name + (dir == Dir::forward ? "_forward/" : "_backward/") + backend + "/batch:" + std::to_string(batch);
          auto* b = benchmark::RegisterBenchmark(name.c_str(), [&c, dir, backend, batch, name](benchmark::State& s) {
            run_case(s, c, dir, backend, batch, options, name);
          });
          b->Unit(benchmark::kMicrosecond);
          if (backend != "cpu") b->Iterations(vulkan_iterations(c.flop(batch, dir)));
        }
      }
    }
  }
  run_benchmarks();
  drop_cached_program();
  benchmark::Shutdown();
  return 0;
}
