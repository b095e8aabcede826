// The whole MNIST CNN as the mnist CLI runs it, on every backend that can run
// here, at batch 1, 32 and 128:
//
//   train_step/cpu/batch:128  one training step: forward (dropout on), the fused
//                             loss, every gradient, Adam updates of all weights
//   infer_step/cpu/batch:128  one inference step: the predict path (no dropout,
//                             softmax probabilities)
//
// The model is frontends/mnist_model's make_mnist_cnn compiled by Sequential;
// the benchmark compiles the same targets Sequential's "train" and "predict"
// executables do (loss, the metrics' source and every update node; the model's output) on
// the model's backend, and times Executable::run (+ Backend::synchronize).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <graphgrad/frontends/mnist_model.h>
#include <graphgrad/graph/op.h>

#include "bench_util.h"
#include "mnist_shapes.h"

namespace gg::bench {
namespace {

std::shared_ptr<Sequential> compiled_model(const std::string& backend, const Options& options) {
  std::shared_ptr<Sequential> model = make_mnist_cnn(/*seed=*/0, Shape{1, mnist::kImage, mnist::kImage});
  CompileOptions co;
  co.backend = backend;
  co.backend_options.threads = options.threads;
  model->compile(co);
  return model;
}

// The training targets of Sequential's "train" executable, found by name and role.
std::vector<NodeId> step_targets(const Sequential& model, bool train) {
  const Graph& g = model.graph();
  if (!train) return {model.output_node()};
  // The loss and what the host-side metrics read (the loss's first input: the logits where softmax is fused).
  const NodeId loss = g.at("loss");
  std::vector<NodeId> t{loss, g.node(loss).inputs[0]};
  for (const Node& n : g.nodes())
    if (!n.op->mutated_inputs().empty()) t.push_back(n.id);  // the Adam updates
  return t;
}

// The FLOPs of one step, as the ops count them, on a CPU-compiled model (cheap).
double step_flops(bool train, int64_t batch, const Options& options) {
  const std::shared_ptr<Sequential> model = compiled_model("cpu", options);
  const Graph& g = model->graph();
  return graph_flops(g, step_targets(*model, train), batch);
}

// mnist_shapes.h must describe the model the CLI trains.
void check_shapes() {
  using namespace mnist;
  auto model = make_mnist_cnn(0, Shape{1, kImage, kImage});
  const Graph& g = model->graph();
  const std::pair<const char*, Shape> expect[] = {{"conv2d_1/kernel", Shape{kConv1, 1, kKernel, kKernel}},
                                                  {"conv2d_2/kernel", Shape{kConv2, kConv1, kKernel, kKernel}},
                                                  {"dense_1/kernel", Shape{kFlat, kHidden}},
                                                  {"dense_2/kernel", Shape{kHidden, kClasses}}};
  for (const auto& [name, shape] : expect) {
    const NodeId id = g.find(name);
    if (id == kNoNode || g.node(id).shape != shape) {
      std::fprintf(stderr, "bench_train: bench/mnist_shapes.h says %s is %s, the model has %s: update mnist_shapes.h\n", name,
                   shape.str().c_str(), id == kNoNode ? "no such node" : g.node(id).shape.str().c_str());
      std::exit(1);
    }
  }
}

void run_step(benchmark::State& state, bool train, const std::string& backend, int64_t batch, const Options& options,
              const std::string& key) {
  Program* p = nullptr;
  try {
    p = &cached_program(key, [&] {
      std::shared_ptr<Sequential> model = compiled_model(backend, options);
      std::vector<NodeId> t = step_targets(*model, train);
      Backend& be = model->backend();
      return compile_program(std::move(model), be, std::move(t), batch, FeedRange{0, 1, int32_t(mnist::kClasses)});
    });
  } catch (const std::exception& e) {
    drop_cached_program();
    state.SkipWithError(e.what());
    return;
  }
  const double flop = graph_flops(*p->graph, p->targets, batch);
  state.SetLabel(std::to_string(p->graph->schedule(p->targets).size()) + " nodes");
  timed_loop(state, *p, batch, flop, graph_bytes(*p->graph, p->targets, batch), warm_up_first(backend, flop));
}

}  // namespace
}  // namespace gg::bench

int main(int argc, char** argv) {
  using namespace gg::bench;
  static const Options options =
      init(argc, argv, "bench_train", "Names: <train_step|infer_step>/<backend>/batch:<N>; e.g. --benchmark_filter=/cpu/");
  check_shapes();
  for (const std::string& backend : runnable_backends("bench_train")) {
    for (bool train : {true, false}) {
      for (int64_t batch : gg::bench::mnist::kBatches) {
        const std::string name = std::string(train ? "train_step/" : "infer_step/") + backend + "/batch:" + std::to_string(batch);
        auto* b = benchmark::RegisterBenchmark(name.c_str(), [train, backend, batch, name](benchmark::State& s) {
          run_step(s, train, backend, batch, options, name);
        });
        b->Unit(benchmark::kMillisecond);
        if (backend != "cpu") b->Iterations(vulkan_iterations(step_flops(train, batch, options)));
      }
    }
  }
  run_benchmarks();
  drop_cached_program();
  benchmark::Shutdown();
  return 0;
}
