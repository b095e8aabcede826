// The Vulkan device's ceilings, measured with small shaders of its own
// (shaders/ceiling_*.comp) through the backend's pipelines and recorder:
// vec4 FMA throughput, read bandwidth through a texel buffer (how our kernels
// read on CPU devices) and through a storage buffer, copy bandwidth, and the
// cost of a dispatch and of a submission. bench_roofline reports them
// (roofline_vulkan.cpp); tests/test_vulkan_ceilings.cpp checks what the shaders
// compute. Needs the Vulkan backend (GG_HAVE_VULKAN).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace gg::bench::vulkan {

enum class Ceiling { fma, texel_read, storage_read, copy, dispatch, submit };
inline constexpr Ceiling kCeilings[] = {Ceiling::fma, Ceiling::texel_read, Ceiling::storage_read,
                                        Ceiling::copy, Ceiling::dispatch, Ceiling::submit};
// Independent vec4 FMA chains per invocation: ACC in shaders/ceiling_fma.comp.
inline constexpr int kFmaChains = 4;
const char* ceiling_name(Ceiling c);  // "fma_peak", "bandwidth/texel_read", ...

// How much work one run does. fma: `groups` x 64 invocations of `rounds`
// rounds; reads and copy: groups x 64 invocations of `steps` vec4s each
// (groups * 64 * steps * 16 bytes); dispatch and submit: `dispatches` empty
// dispatches (for dispatch, each followed by a barrier). Every ceiling records `dispatches`
// dispatches per command buffer (one submission per run).
struct Size {
  uint32_t groups = 1;
  uint32_t rounds = 1;  // fma: FMA rounds per invocation (< 65,535)
  uint32_t steps = 1;   // reads, copy: vec4s per invocation (< 65,535)
  uint32_t dispatches = 1;
};
// The benchmark's sizes: ~17 GFLOP for fma, 64 MiB for the reads and the
// copy, 1,000 dispatches; each a fraction of a second on lavapipe.
Size bench_size(Ceiling c);

class Device;  // a Vulkan context, its pipelines, a command pool

// A Vulkan device to measure; selector as BackendOptions::device ("": the
// backend's default choice). Throws BackendError when there is none.
std::shared_ptr<Device> open_device(const std::string& selector = "");
std::string describe(const Device& d);  // the device's one-line description
// Whether runs are timed by the device's timestamps (else wall time of submit + wait).
bool device_timer(const Device& d);

// One ceiling's buffers and command buffer, recorded once and run repeatedly.
class Run {
 public:
  Run(std::shared_ptr<Device> device, Ceiling c, Size size);
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  // Submits the command buffer and waits for it; returns its seconds: between
  // the device timestamps around the dispatches when device_timer(), else
  // (and always for Ceiling::submit) the wall time of submit + wait.
  double run();
  double flop() const;   // per run: 2 per FMA lane
  double bytes() const;  // per run: bytes read + bytes written
  uint32_t dispatches() const { return size_.dispatches; }

  // For tests: the input (reads and copy: groups * 64 * steps vec4s, as
  // floats), and the output after a run (fma and reads: a vec4 per
  // invocation; copy: the copied vec4s), through staging buffers.
  void upload(std::span<const float> input);
  std::vector<float> download();
  // fma's factors: each round is a = fma(a, m, c). Default 0.9999 and 1e-4:
  // the chains converge to 1 and never overflow or turn denormal.
  void set_fma(float m, float c);

 private:
  struct State;
  void record();
  std::shared_ptr<Device> device_;
  Ceiling ceiling_;
  Size size_;
  float m_ = 0.9999f, c_ = 1e-4f;
  std::unique_ptr<State> s_;
};

}  // namespace gg::bench::vulkan
