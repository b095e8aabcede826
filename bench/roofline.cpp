// The roofline: what this CPU and its OpenBLAS can do, to judge the op and step
// benchmarks against.
//
//   fma_peak/threads:T               a vector-FMA loop at the widest ISA here
//                                    (fma_peak.cpp), on T threads at once
//   sgemm/peak/2048x2048x2048/threads:T   cblas_sgemm, OpenBLAS on T threads
//   sgemm/<layer>.<pass>/MxNxK/threads:T  every GEMM the MNIST net runs, as the
//                                    CPU backend calls it (row-major, same
//                                    transposes), at batch 128
//
// The CPU backend calls OpenBLAS single-threaded inside each pool thread: a
// convolution's GEMM is per image (label "x128 per step", images spread over
// the pool), dense GEMMs are split by row or column blocks. threads:1 is
// therefore the figure to compare a per-thread kernel with; threads:2 shows
// what OpenBLAS's own threading makes of the same shape.
// The OpenBLAS core and build configuration go to stderr and to the JSON context.
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "fma_peak.h"
#include "mnist_shapes.h"

namespace gg::bench {
namespace {
using namespace mnist;

// Rates are over wall time, computed here: Google Benchmark's own rates use the
// main thread's CPU time unless UseRealTime(), which appends "/real_time" to names.
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Gemm {
  std::string name;  // "<layer>.<pass>"
  bool ta, tb;
  int64_t m, n, k;
  int64_t calls;  // per training step at batch 128 (-1: not a GEMM of the net)
};

constexpr int64_t kB = 128;
constexpr int64_t kKK = kKernel * kKernel;

// The calls in backends/cpu/kernels_conv.cpp and kernels_dense.cpp, at the net's shapes.
std::vector<Gemm> net_gemms() {
  const int64_t p1 = kConv1Out * kConv1Out, p2 = kConv2Out * kConv2Out;
  return {
      // conv forward: y[OC, OH*OW] = W[OC, C*9] x col[C*9, OH*OW], per image
      {"conv2d_1.forward", false, false, kConv1, p1, 1 * kKK, kB},
      // backward_input: dcol[C*9, OH*OW] = W^T dy; the training step never runs
      // it for conv2d_1 (its input is data), measured for completeness
      {"conv2d_1.backward_input", true, false, 1 * kKK, p1, kConv1, 0},
      // backward_weight: dW[OC, C*9] += dy[OC, OH*OW] x col^T, per image
      {"conv2d_1.backward_weight", false, true, kConv1, 1 * kKK, p1, kB},
      {"conv2d_2.forward", false, false, kConv2, p2, kConv1 * kKK, kB},
      {"conv2d_2.backward_input", true, false, kConv1 * kKK, p2, kConv2, kB},
      {"conv2d_2.backward_weight", false, true, kConv2, kConv1 * kKK, p2, kB},
      // dense forward y[N,out] = x[N,in] W[in,out]; backward dx = dy W^T, dW = x^T dy
      {"dense_1.forward", false, false, kB, kHidden, kFlat, 1},
      {"dense_1.backward_input", false, true, kB, kFlat, kHidden, 1},
      {"dense_1.backward_weight", true, false, kFlat, kHidden, kB, 1},
      {"dense_2.forward", false, false, kB, kClasses, kHidden, 1},
      {"dense_2.backward_input", false, true, kB, kHidden, kClasses, 1},
      {"dense_2.backward_weight", true, false, kHidden, kClasses, kB, 1},
  };
}

void bm_sgemm(benchmark::State& state, Gemm g, int threads) {
  openblas_set_num_threads(threads);
  // Row-major op(A)[M,K], op(B)[K,N]: the stored matrices are transposed when asked.
  const int64_t lda = g.ta ? g.m : g.k, ldb = g.tb ? g.k : g.n;
  std::vector<float> a(static_cast<size_t>(g.m * g.k), 0.5f), b(static_cast<size_t>(g.k * g.n), 0.25f),
      c(static_cast<size_t>(g.m * g.n), 0.0f);
  const auto call = [&] {
    cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans, int(g.m), int(g.n),
                int(g.k), 1.0f, a.data(), int(lda), b.data(), int(ldb), 0.0f, c.data(), int(g.n));
  };
  call();  // warm-up: OpenBLAS starts its threads and buffers on first use
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  const double flop = 2.0 * double(g.m) * double(g.n) * double(g.k);
  state.counters["GFLOP/s"] = flop * double(state.iterations()) / seconds_since(t0) * 1e-9;
  state.counters["flop_per_run"] = flop;
  state.counters["calls_per_step"] = double(g.calls < 0 ? 0 : g.calls);
  state.counters["openblas_threads"] = threads;
  std::string label = std::string(g.ta ? "T" : "N") + (g.tb ? "T" : "N");
  if (g.calls > 1) label += " x" + std::to_string(g.calls) + " per step (per image)";
  if (g.calls == 0) label += " not run by the training step";
  state.SetLabel(label);
}

// Each benchmark thread runs the FMA loop and counts its own rate; Google
// Benchmark sums the threads' counters, so threads:2 is both cores together.
void bm_fma_peak(benchmark::State& state) {
  constexpr int64_t kRounds = 1 << 16;  // ~0.1 ms at tens of GFLOP/s: timer overhead is noise
  double flop = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) flop += fma_flops(kRounds);
  state.counters["GFLOP/s"] = flop / seconds_since(t0) * 1e-9;
  state.SetLabel(fma_isa());
}

}  // namespace
}  // namespace gg::bench

int main(int argc, char** argv) {
  using namespace gg::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  const std::string core = openblas_get_corename(), config = openblas_get_config();
  std::fprintf(stderr, "openblas_get_corename: %s\nopenblas_get_config: %s\nfma_peak ISA: %s\n", core.c_str(), config.c_str(),
               fma_isa());
  benchmark::AddCustomContext("openblas_corename", core);
  benchmark::AddCustomContext("openblas_config", config);
  benchmark::AddCustomContext("fma_isa", fma_isa());

  benchmark::RegisterBenchmark("fma_peak", bm_fma_peak)->Threads(1)->Threads(2);
  std::vector<Gemm> gemms{{"peak", false, false, 2048, 2048, 2048, -1}};
  for (const Gemm& g : net_gemms()) gemms.push_back(g);
  for (const Gemm& g : gemms) {
    for (int threads : {1, 2}) {
      const std::string name = "sgemm/" + g.name + "/" + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" +
                               std::to_string(g.k) + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), [g, threads](benchmark::State& s) { bm_sgemm(s, g, threads); })
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
