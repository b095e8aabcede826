#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include <unistd.h>

#include <graphgrad/graph/op.h>
#include <graphgrad/ops/op_table.h>

namespace gg::bench {

namespace {
// What run_benchmarks() needs of Google Benchmark's own flags (it reads them
// from argv, as the library keeps its flag values private).
std::string g_format = "console", g_out, g_out_format = "json";

void note_benchmark_flag(const char* a) {
  const auto value = [a](const char* flag) -> const char* {
    const size_t n = std::strlen(flag);
    return std::strncmp(a, flag, n) == 0 && a[n] == '=' ? a + n + 1 : nullptr;
  };
  if (const char* v = value("--benchmark_format")) g_format = v;
  if (const char* v = value("--benchmark_out")) g_out = v;
  if (const char* v = value("--benchmark_out_format")) g_out_format = v;
}

// Forwards to `inner` with each run's name stripped of "/iterations:N".
class RegisteredNames final : public benchmark::BenchmarkReporter {
 public:
  explicit RegisteredNames(std::unique_ptr<benchmark::BenchmarkReporter> inner) : inner_(std::move(inner)) {}
  bool ReportContext(const Context& context) override {
    // The library points this reporter (not the inner one) at its output file.
    inner_->SetOutputStream(&GetOutputStream());
    inner_->SetErrorStream(&GetErrorStream());
    return inner_->ReportContext(context);
  }
  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> named = runs;
    for (Run& r : named) r.run_name.iterations.clear();
    inner_->ReportRuns(named);
  }
  void Finalize() override { inner_->Finalize(); }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
};

// json, else console (csv, deprecated upstream, prints as console).
std::unique_ptr<benchmark::BenchmarkReporter> make_reporter(const std::string& format, bool console_color) {
  std::unique_ptr<benchmark::BenchmarkReporter> r;
  if (format == "json") r = std::make_unique<benchmark::JSONReporter>();
  else r = std::make_unique<benchmark::ConsoleReporter>(console_color ? benchmark::ConsoleReporter::OO_Color
                                                                      : benchmark::ConsoleReporter::OO_None);
  return std::make_unique<RegisteredNames>(std::move(r));
}
}  // namespace

void run_benchmarks() {
  auto display = make_reporter(g_format, isatty(STDOUT_FILENO) != 0);
  if (g_out.empty()) {
    benchmark::RunSpecifiedBenchmarks(display.get());
  } else {
    auto file = make_reporter(g_out_format, false);
    benchmark::RunSpecifiedBenchmarks(display.get(), file.get());
  }
}

void note_benchmark_flags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) note_benchmark_flag(argv[i]);
}

Options init(int& argc, char** argv, const char* program, const char* extra_help) {
  Options o;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    note_benchmark_flag(a);
    if (std::strncmp(a, "--threads=", 10) == 0) {
      char* end = nullptr;
      const long t = std::strtol(a + 10, &end, 10);
      if (*end != '\0' || t < 0 || t > 1024) {
        std::fprintf(stderr, "%s: --threads takes a count >= 0 (0: every core), got '%s'\n", program, a + 10);
        std::exit(2);
      }
      o.threads = static_cast<int>(t);
      continue;
    }
    if (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0)
      std::printf("%s [--threads=N] [Google Benchmark flags]\n  --threads=N  the CPU backend's threads (default 0: every core)\n%s\n",
                  program, extra_help);
    argv[kept++] = argv[i];
  }
  argc = kept;
  argv[argc] = nullptr;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) std::exit(2);
  benchmark::AddCustomContext("graphgrad_threads", std::to_string(o.threads));
  return o;
}

std::vector<std::string> runnable_backends(const char* program) {
  std::vector<std::string> out{"cpu"};
  std::string why;
  const std::vector<std::string> devices = list_devices("vulkan", &why);
  if (devices.empty()) {
    std::fprintf(stderr, "%s: vulkan benchmarks skipped: %s\n", program, why.empty() ? "no Vulkan device" : why.c_str());
    benchmark::AddCustomContext("vulkan_skipped", why.empty() ? "no Vulkan device" : why);
  } else {
    std::string all;
    for (const auto& d : devices) all += (all.empty() ? "" : "; ") + d;
    benchmark::AddCustomContext("vulkan_devices", all);
    out.push_back("vulkan");
  }
  return out;
}

int64_t vulkan_iterations(double flop_per_run) {
  // Aim at ~0.5 s per benchmark assuming 5 GFLOP/s and >= 2 ms a dispatch chain.
  const double est_s = std::max(flop_per_run / 5e9, 2e-3);
  return std::clamp<int64_t>(static_cast<int64_t>(0.5 / est_s), 2, 20);
}

namespace {
void feed_placeholders(Program& p, int64_t batch, const FeedRange& range) {
  std::mt19937 rng(1234);
  for (NodeId id : p.graph->schedule(p.targets)) {
    const Node& n = p.graph->node(id);
    if (n.op->role() != OpRole::input) continue;
    const Shape shape = n.shape.resolved(batch);
    const auto count = static_cast<size_t>(shape.numel());
    if (n.dtype == DType::f32) {
      std::uniform_real_distribution<float> u(range.lo, range.hi);
      std::vector<float> v(count);
      for (float& x : v) x = u(rng);
      p.feeds.push_back({id, shape, DType::f32, v.data()});
      p.f32_data.push_back(std::move(v));  // moving keeps the buffer where the feed points
    } else if (n.name == "step") {
      p.feeds.push_back({id, shape, DType::i32, &p.step});
    } else {
      std::vector<int32_t> v(count, 0);
      if (n.shape.has_batch()) {  // labels
        std::uniform_int_distribution<int32_t> u(0, range.classes - 1);
        for (int32_t& x : v) x = u(rng);
      }
      p.feeds.push_back({id, shape, DType::i32, v.data()});
      p.i32_data.push_back(std::move(v));
    }
  }
}
}  // namespace

std::unique_ptr<Program> compile_program(std::unique_ptr<Graph> graph, std::vector<NodeId> targets,
                                         const std::string& backend, int64_t batch, const Options& options,
                                         FeedRange range) {
  auto p = std::make_unique<Program>();
  p->own_graph = std::move(graph);
  p->graph = p->own_graph.get();
  BackendOptions bo;
  bo.threads = options.threads;
  p->own_backend = make_backend(backend, *p->graph, bo);
  p->backend = p->own_backend.get();
  p->targets = std::move(targets);
  p->exe = p->backend->compile(p->targets, batch);
  feed_placeholders(*p, batch, range);
  return p;
}

std::unique_ptr<Program> compile_program(std::shared_ptr<void> owner, Backend& backend, std::vector<NodeId> targets,
                                         int64_t batch, FeedRange range) {
  auto p = std::make_unique<Program>();
  p->owner = std::move(owner);
  p->graph = &backend.graph();
  p->backend = &backend;
  p->targets = std::move(targets);
  p->exe = p->backend->compile(p->targets, batch);
  feed_placeholders(*p, batch, range);
  return p;
}

namespace {
std::string g_key;
std::unique_ptr<Program> g_program;
}  // namespace

Program& cached_program(const std::string& key, const std::function<std::unique_ptr<Program>()>& make) {
  if (!g_program || g_key != key) {
    g_program.reset();  // free the last one before building the next
    g_key = key;
    g_program = make();
  }
  return *g_program;
}

void drop_cached_program() {
  g_program.reset();
  g_key.clear();
}

double graph_flops(const Graph& g, const std::vector<NodeId>& targets, int64_t batch) {
  double total = 0;
  for (NodeId id : g.schedule(targets)) total += g.node(id).op->flops(g, g.node(id), batch);
  return total;
}

// Always: the first Vulkan run also compiles the shaders (lavapipe builds a pipeline's code on first use).
bool warm_up_first(const std::string& /*backend*/, double /*flop_per_run*/) { return true; }

double graph_bytes(const Graph& g, const std::vector<NodeId>& targets, int64_t batch) {
  const auto bytes = [&](NodeId id) { return 4.0 * double(g.node(id).shape.resolved(batch).numel()); };  // f32, i32
  double total = 0;
  for (NodeId id : g.schedule(targets)) {
    const Node& n = g.node(id);
    if (n.op->role() != OpRole::compute || n.op->id() == ops::id::reshape) continue;
    total += bytes(id);
    for (NodeId in : n.inputs) total += bytes(in);
  }
  return total;
}

void timed_loop(benchmark::State& state, Program& p, int64_t batch, double flop_per_run, double bytes_per_run,
                bool warm_up) {
  using Clock = std::chrono::steady_clock;
  if (warm_up && !p.warmed) {
    const auto w0 = Clock::now();
    p.exe->run(p.feeds);
    p.backend->synchronize();
    p.first_run_s = std::chrono::duration<double>(Clock::now() - w0).count();
    ++p.step;
    p.warmed = true;
  }
  const auto t0 = Clock::now();
  for (auto _ : state) {
    p.exe->run(p.feeds);
    p.backend->synchronize();
    ++p.step;
  }
  // Rates over wall time, computed here: Google Benchmark's own rates use the
  // main thread's CPU time unless UseRealTime(), which would append
  // "/real_time" to every name.
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto iters = static_cast<double>(state.iterations());
  if (wall > 0) {
    state.counters["items_per_second"] = iters * double(batch) / wall;
    state.counters["GFLOP/s"] = flop_per_run * iters / wall * 1e-9;
    state.counters["GB/s"] = bytes_per_run * iters / wall * 1e-9;
  }
  state.counters["flop_per_run"] = flop_per_run;
  state.counters["bytes_per_run"] = bytes_per_run;
  state.counters["batch"] = static_cast<double>(batch);
  state.counters["warmed_up"] = warm_up ? 1 : 0;
  state.counters["first_run_s"] = p.first_run_s;  // the untimed warm-up run
}

}  // namespace gg::bench
