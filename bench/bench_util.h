// What bench_ops and bench_train share: their command-line options, which
// backends can run here, a compiled program (graph + backend + executable +
// fed data) kept alive across Google Benchmark's repeated calls, and the timed
// loop with its counters.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/graph.h>

namespace gg::bench {

struct Options {
  int threads = 0;  // --threads=N: the CPU backend's pool (0: every core)
};

// Takes our own flags out of argv (before benchmark::Initialize sees them) and
// calls benchmark::Initialize. Exits with a message on a bad flag.
Options init(int& argc, char** argv, const char* program, const char* extra_help);

// RunSpecifiedBenchmarks through reporters (the ones --benchmark_format and
// --benchmark_out_format ask for) that print each name as registered,
// "conv2d_1_forward/vulkan/batch:1": without the "/iterations:N" that Google
// Benchmark appends where a fixed count is set (the Vulkan cases).
// --benchmark_filter still sees the full name.
void run_benchmarks();
// What run_benchmarks() needs to know of Google Benchmark's flags in argv
// (--benchmark_format, --benchmark_out, --benchmark_out_format), for a
// program that calls benchmark::Initialize itself instead of init().
void note_benchmark_flags(int argc, char** argv);

// The backends to register: "cpu", and "vulkan" when it is built and lists a
// device. Prints one line to stderr for a backend it leaves out, saying why,
// and records the choice in the JSON context ("vulkan_device" or "vulkan_skipped").
std::vector<std::string> runnable_backends(const char* program);

// Vulkan on lavapipe runs at well under 1 GFLOP/s: a fixed, small iteration
// count per benchmark (from the FLOP count) keeps the whole Vulkan set short.
int64_t vulkan_iterations(double flop_per_run);

// A graph compiled on one backend, with every placeholder fed random data.
// The graph and backend are either the program's own or those of `owner`
// (a Sequential model, say), which then outlives the executable.
struct Program {
  std::shared_ptr<void> owner;
  std::unique_ptr<Graph> own_graph;
  std::unique_ptr<Backend> own_backend;
  const Graph* graph = nullptr;
  Backend* backend = nullptr;
  std::unique_ptr<Executable> exe;  // declared last: destroyed first
  std::vector<NodeId> targets;
  std::vector<Feed> feeds;
  int32_t step = 0;  // fed to an i32 [1] placeholder named "step"; bumped every run
  bool warmed = false;
  double first_run_s = 0;  // the untimed warm-up run
  std::vector<std::vector<float>> f32_data;
  std::vector<std::vector<int32_t>> i32_data;
};

// Feeds every placeholder the schedule of `targets` reads (for `batch`):
// f32 uniform in [lo, hi), i32 with a batch dimension as labels in
// [0, classes), "step" from Program::step, any other i32 as 0.
struct FeedRange {
  float lo = -1, hi = 1;
  int32_t classes = 10;
};

// Makes a backend for `graph` and compiles `targets` for `batch`. Throws
// BackendError (e.g. no Vulkan device).
std::unique_ptr<Program> compile_program(std::unique_ptr<Graph> graph, std::vector<NodeId> targets,
                                         const std::string& backend, int64_t batch, const Options& options,
                                         FeedRange range = {});
// Compiles `targets` on an existing backend whose graph and backend `owner` keeps alive.
std::unique_ptr<Program> compile_program(std::shared_ptr<void> owner, Backend& backend, std::vector<NodeId> targets,
                                         int64_t batch, FeedRange range = {});

// The program for benchmark `key`, built by `make` on first use and kept
// until a benchmark with another key asks (one at a time: memory stays small).
Program& cached_program(const std::string& key, const std::function<std::unique_ptr<Program>()>& make);
void drop_cached_program();

// The FLOPs of one run as the ops' own flops() count them (the one formula
// per op, ops/), summed over the schedule of `targets`.
double graph_flops(const Graph& g, const std::vector<NodeId>& targets, int64_t batch);
// The bytes one run moves at the least, summed over the same schedule: each
// compute node reads each of its inputs once and writes its output once (a
// reshape, an alias on every backend, moves none). Kernels that read an
// operand more than once, or spill to scratch, move more: GB/s from this is
// the traffic the roofline model counts, a lower bound of the real one.
double graph_bytes(const Graph& g, const std::vector<NodeId>& targets, int64_t batch);

// Whether to run a benchmark's program once untimed before timing it: always,
// but for Vulkan runs of over ~1 GFLOP (seconds each on lavapipe, where the
// first run costs ~1% more than the next; the counter first_run_s shows it).
bool warm_up_first(const std::string& backend, double flop_per_run);

// Runs the program once untimed when `warm_up` (first-run costs: page faults,
// command-buffer recording), then once per iteration (+ synchronize), and sets the counters:
// items_per_second (images), GFLOP/s and GB/s over wall time, flop_per_run,
// bytes_per_run (graph_bytes), batch, warmed_up (0 or 1) and first_run_s (the
// warm-up run's time, 0 when none).
void timed_loop(benchmark::State& state, Program& p, int64_t batch, double flop_per_run, double bytes_per_run,
                bool warm_up);

}  // namespace gg::bench
