// bench_roofline's Vulkan entries: the device's ceilings (vulkan_ceilings.h),
// to read the Vulkan kernels of bench_ops against.
//
//   vulkan/fma_peak                 GFLOP/s of vec4 FMA chains on registers
//   vulkan/bandwidth/texel_read     GB/s reading vec4s through a uniform texel buffer
//   vulkan/bandwidth/storage_read   GB/s reading vec4s from a storage buffer
//   vulkan/bandwidth/copy           GB/s (read + written) copying through a texel buffer
//   vulkan/dispatch_overhead        us_per_dispatch: an empty dispatch and its barrier
//   vulkan/submit_wait              us_per_submit: vkQueueSubmit of one empty
//                                   dispatch + vkWaitForFences, wall time
//
// Each iteration submits a command buffer recorded once; the rates use the
// device's timestamps around the dispatches where the queue has them (the
// `device_timer` counter is 1), else the wall time of submit + wait. Fixed
// iteration counts: Google Benchmark would size the loop by the main
// thread's CPU time, which a fence wait barely uses.
#include "roofline_vulkan.h"

#include <cstdio>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include <graphgrad/backends/backend.h>

#include "vulkan_ceilings.h"

namespace gg::bench {
namespace {
using vulkan::Ceiling;

// The device, opened by the first Vulkan benchmark that runs (a filter that
// leaves them all out opens nothing).
std::shared_ptr<vulkan::Device>& device() {
  static std::shared_ptr<vulkan::Device> d;
  if (!d) d = vulkan::open_device();
  return d;
}

// On lavapipe (2 cores) each is ~0.2-0.5 s.
int64_t iterations(Ceiling c) {
  switch (c) {
    case Ceiling::fma: return 3;
    case Ceiling::texel_read: return 20;
    case Ceiling::storage_read:
    case Ceiling::copy: return 10;
    case Ceiling::dispatch: return 20;
    case Ceiling::submit: return 2000;
  }
  return 1;
}

void bm_ceiling(benchmark::State& state, Ceiling c) {
  std::unique_ptr<vulkan::Run> run;
  try {
    run = std::make_unique<vulkan::Run>(device(), c, vulkan::bench_size(c));
    run->run();  // warm-up: lavapipe compiles a pipeline's code on its first dispatch
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  double seconds = 0;
  for (auto _ : state) seconds += run->run();
  const double n = double(state.iterations());
  if (c == Ceiling::fma) state.counters["GFLOP/s"] = run->flop() * n / seconds * 1e-9;
  if (run->bytes() > 0) {
    state.counters["GB/s"] = run->bytes() * n / seconds * 1e-9;
    state.counters["bytes_per_run"] = run->bytes();
  }
  if (c == Ceiling::fma) state.counters["flop_per_run"] = run->flop();
  if (c == Ceiling::dispatch) state.counters["us_per_dispatch"] = seconds / n / run->dispatches() * 1e6;
  if (c == Ceiling::submit) state.counters["us_per_submit"] = seconds / n * 1e6;
  const bool timer = c != Ceiling::submit && vulkan::device_timer(*device());
  state.counters["device_timer"] = timer ? 1 : 0;
  state.SetLabel(timer ? "device timestamps" : "wall time of submit + wait");
}

}  // namespace

void register_vulkan_ceilings() {
  std::string why;
  const std::vector<std::string> devices = list_devices("vulkan", &why);
  if (devices.empty()) {
    if (why.empty()) why = "no Vulkan device";
    std::fprintf(stderr, "bench_roofline: vulkan/ ceilings skipped: %s\n", why.c_str());
    benchmark::AddCustomContext("vulkan_ceilings_skipped", why);
    return;
  }
  std::string all;
  for (const std::string& d : devices) all += (all.empty() ? "" : "; ") + d;
  benchmark::AddCustomContext("vulkan_devices", all);
  for (Ceiling c : vulkan::kCeilings) {
    const std::string name = std::string("vulkan/") + vulkan::ceiling_name(c);
    benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& s) { bm_ceiling(s, c); })
        ->Iterations(iterations(c))
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace gg::bench
