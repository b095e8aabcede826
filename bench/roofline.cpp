// The roofline: what this CPU and its OpenBLAS can do, to judge the op and step
// benchmarks against.
//
//   fma_peak/threads:T               a vector-FMA loop at the widest ISA here
//                                    (fma_peak.cpp), on T threads at once
//   sgemm/peak/2048x2048x2048/threads:T   cblas_sgemm, OpenBLAS on T threads
//   sgemm/<layer>.<pass>/MxNxK/threads:T  every im2col GEMM of the MNIST net, as
//                                    the CPU backend calls it (row-major, same
//                                    transposes), at batch 128
//   direct/conv2d_2.<pass>/threads:T the CPU backend's direct conv kernels
//                                    (backends/cpu/conv_direct.h) at conv2d_2's
//                                    shape: one call over 64*T images on a
//                                    ThreadPool(T), as the training step calls them
//
// The CPU backend calls OpenBLAS single-threaded inside each pool thread: a
// convolution's GEMM is per image (label "x128 per step", images spread over
// the pool), dense GEMMs are split by row or column blocks. threads:1 is
// therefore the figure to compare a per-thread kernel with; threads:2 shows
// what OpenBLAS's own threading makes of the same shape.
//
// Stride-1 convolutions with enough input channels (conv2d_2) take the direct
// AVX2+FMA kernels instead of im2col + sgemm where the CPU has AVX2+FMA
// (direct::applicable): there conv2d_2's three GEMMs are still measured, as
// the im2col fallback, but count 0 calls per step; the direct/ entries are
// what the step runs (1 call per step, the whole batch). Without AVX2+FMA the
// direct/ entries are not registered and one line on stderr says so.
// The OpenBLAS core and build configuration go to stderr and to the JSON context.
//
// vulkan/...: the Vulkan device's ceilings (FMA, bandwidth through texel and
// storage buffers, copy, dispatch and submission costs), roofline_vulkan.cpp.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <graphgrad/graph/graph.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/conv_geometry.h>
#include <graphgrad/ops/ops.h>

#include "cpu/conv_direct.h"
#include "bench_util.h"
#include "cpu/thread_pool.h"
#include "fma_peak.h"
#include "mnist_shapes.h"
#if GRAPHGRAD_HAS_VULKAN
#include "roofline_vulkan.h"
#endif

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

// conv2d_2 as the CPU backend sees it: 32x26x26 in, 32@3x3, 24x24 out, valid, stride 1.
ops::ConvGeometry conv2d_2_geometry() {
  ops::ConvGeometry g;
  g.c = kConv1, g.h = kConv1Out, g.w = kConv1Out;
  g.oc = kConv2, g.kh = kKernel, g.kw = kKernel;
  g.oh = kConv2Out, g.ow = kConv2Out;
  g.stride = 1, g.pad_top = 0, g.pad_left = 0;
  return g;
}

// The calls in backends/cpu/kernels_conv.cpp and kernels_dense.cpp, at the net's shapes.
// conv2d_2_direct: conv2d_2 runs the direct kernels, not these GEMMs.
std::vector<Gemm> net_gemms(bool conv2d_2_direct) {
  const int64_t p1 = kConv1Out * kConv1Out, p2 = kConv2Out * kConv2Out;
  const int64_t c2 = conv2d_2_direct ? 0 : kB;
  return {
      // conv forward: y[OC, OH*OW] = W[OC, C*9] x col[C*9, OH*OW], per image
      {"conv2d_1.forward", false, false, kConv1, p1, 1 * kKK, kB},
      // backward_input: dcol[C*9, OH*OW] = W^T dy; the training step never runs
      // it for conv2d_1 (its input is data), measured for completeness
      {"conv2d_1.backward_input", true, false, 1 * kKK, p1, kConv1, 0},
      // backward_weight: dW[OC, C*9] += dy[OC, OH*OW] x col^T, per image
      {"conv2d_1.backward_weight", false, true, kConv1, 1 * kKK, p1, kB},
      // conv2d_2: the im2col fallback, on CPUs without AVX2+FMA (else 0 calls)
      {"conv2d_2.forward", false, false, kConv2, p2, kConv1 * kKK, c2},
      {"conv2d_2.backward_input", true, false, kConv1 * kKK, p2, kConv2, c2},
      {"conv2d_2.backward_weight", false, true, kConv2, kConv1 * kKK, p2, c2},
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
  if (g.calls == 0) {
    label += " not run by the training step";
    if (g.name.rfind("conv2d_2.", 0) == 0)
      label += " (im2col fallback, for CPUs without AVX2+FMA; conv2d_2 runs the direct kernels)";
  }
  state.SetLabel(label);
}

// 64-byte aligned floats (the direct kernels' scratch must be; the data too, as the backend's).
struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Floats = std::unique_ptr<float[], FreeDeleter>;
Floats aligned_floats(size_t n, float value) {
  const size_t bytes = (std::max<size_t>(n, 1) * sizeof(float) + 63) / 64 * 64;
  Floats p(static_cast<float*>(std::aligned_alloc(64, bytes)));
  if (!p) throw std::bad_alloc();
  std::fill_n(p.get(), n, value);
  return p;
}

enum class Pass { forward, backward_input, backward_weight };
const char* pass_name(Pass p) {
  return p == Pass::forward ? "forward" : p == Pass::backward_input ? "backward_input" : "backward_weight";
}

// One call of a direct kernel over 64*threads images of conv2d_2 on a pool of
// `threads`: the same work per thread at either count; threads:2 is the whole
// batch-128 call of the training step on this 2-core machine's pool.
void bm_direct(benchmark::State& state, Pass pass, int threads) {
  namespace direct = cpu::direct;
  const ops::ConvGeometry g = conv2d_2_geometry();
  const int64_t n = 64 * int64_t{threads};
  const size_t x_size = size_t(n * g.c * g.h * g.w), y_size = size_t(n * g.oc * g.oh * g.ow),
               w_size = size_t(g.oc * g.col_rows());
  cpu::ThreadPool pool(threads);
  const size_t scratch_size = pass == Pass::forward          ? direct::forward_scratch(g, threads)
                              : pass == Pass::backward_input ? direct::backward_input_scratch(g, threads)
                                                             : direct::backward_weight_scratch(g, threads);
  Floats x = aligned_floats(x_size, 0.5f), y = aligned_floats(y_size, 0.25f), w = aligned_floats(w_size, 0.125f),
         b = aligned_floats(size_t(g.oc), 0.1f), scratch = aligned_floats(scratch_size, 0.0f);
  // forward: x, w, b -> y; backward_input: dy = y, w -> dx = x; backward_weight: dy = y, x -> dw = w.
  const auto call = [&] {
    switch (pass) {
      case Pass::forward: direct::forward(g, n, x.get(), w.get(), b.get(), y.get(), scratch.get(), pool); break;
      case Pass::backward_input: direct::backward_input(g, n, y.get(), w.get(), x.get(), scratch.get(), pool); break;
      case Pass::backward_weight: direct::backward_weight(g, n, y.get(), x.get(), w.get(), scratch.get(), pool); break;
    }
  };
  call();  // warm-up: the pool's threads, the pages of every buffer
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  // Each pass has the multiply-adds of the forward conv, as the op counts them.
  Graph counted;
  const NodeId cx = counted.placeholder("x", Shape{kBatch, g.c, g.h, g.w});
  const NodeId cw = counted.parameter("w", Shape{g.oc, g.c, g.kh, g.kw}, Init::zeros());
  const NodeId cy = ops::conv2d(counted, cx, cw, kNoNode, int(g.stride), g.pad_top ? ops::Padding::same : ops::Padding::valid);
  const double flop = counted.node(cy).op->flops(counted, counted.node(cy), n);
  state.counters["GFLOP/s"] = flop * double(state.iterations()) / seconds_since(t0) * 1e-9;
  state.counters["flop_per_run"] = flop;
  state.counters["calls_per_step"] = 1;
  state.counters["batch"] = double(n);
  state.counters["pool_threads"] = threads;
  state.SetLabel("direct AVX2+FMA, " + std::to_string(n) + " images on " + std::to_string(threads) +
                 " pool thread(s); the step makes 1 call over the whole batch");
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
  note_benchmark_flags(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  const std::string core = openblas_get_corename(), config = openblas_get_config();
  std::fprintf(stderr, "openblas_get_corename: %s\nopenblas_get_config: %s\nfma_peak ISA: %s\n", core.c_str(), config.c_str(),
               fma_isa());
  benchmark::AddCustomContext("openblas_corename", core);
  benchmark::AddCustomContext("openblas_config", config);
  benchmark::AddCustomContext("fma_isa", fma_isa());

  benchmark::RegisterBenchmark("fma_peak", bm_fma_peak)->Threads(1)->Threads(2);
  const bool conv2d_2_direct = gg::cpu::direct::applicable(conv2d_2_geometry());
  std::vector<Gemm> gemms{{"peak", false, false, 2048, 2048, 2048, -1}};
  for (const Gemm& g : net_gemms(conv2d_2_direct)) gemms.push_back(g);
  for (const Gemm& g : gemms) {
    for (int threads : {1, 2}) {
      const std::string name = "sgemm/" + g.name + "/" + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" +
                               std::to_string(g.k) + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), [g, threads](benchmark::State& s) { bm_sgemm(s, g, threads); })
          ->Unit(benchmark::kMicrosecond);
    }
  }
  if (gg::cpu::direct::supported()) {
    for (Pass pass : {Pass::forward, Pass::backward_input, Pass::backward_weight}) {
      for (int threads : {1, 2}) {
        const std::string name =
            std::string("direct/conv2d_2.") + pass_name(pass) + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), [pass, threads](benchmark::State& s) { bm_direct(s, pass, threads); })
            ->Unit(benchmark::kMicrosecond);
      }
    }
  } else {
    std::fprintf(stderr,
                 "bench_roofline: direct/ conv benchmarks skipped: this CPU lacks AVX2+FMA (conv2d_2 runs im2col + "
                 "sgemm, the sgemm/conv2d_2.* entries)\n");
  }
#if GRAPHGRAD_HAS_VULKAN
  register_vulkan_ceilings();
#else
  std::fprintf(stderr, "bench_roofline: vulkan/ ceilings skipped: built without the Vulkan backend\n");
  benchmark::AddCustomContext("vulkan_ceilings_skipped", "built without the Vulkan backend");
#endif
  run_benchmarks();  // the Vulkan entries' names without Google Benchmark's "/iterations:N"
  benchmark::Shutdown();
  return 0;
}
