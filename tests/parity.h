// Backend parity, in the spirit of ggml's test-backend-ops: one graph, built
// once, handed to two backends (the CPU backend as the reference and the one
// under test); both compile the same targets, are fed identical data, and
// every target's value is compared element by element.
//
//   NMSE = sum (a - b)^2 / sum b^2   (b: the reference)   <= tolerance.nmse
//   max |a - b| <= tolerance.max_abs * max(1, max |b|)
//   no NaN or Inf in either output
//   exact targets: every element equal (a == b: NMSE 0 and max-abs 0; the
//   sign of a zero is not compared, NaN never equals anything)
//
// A case may also check gradients: the harness adds an upstream-gradient
// placeholder dy of the output's shape (fed random values) and appends
// vjp(y, dy) with respect to every differentiable f32 input, so the
// backward-only ops (conv2d_backward_*, bias_grad, max_pool2d_backward,
// relu_backward, softmax_backward, ...) are compared too.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/graph.h>

namespace gg::test {

// Printed (in a doctest MESSAGE) by a case that could not run because the
// backend under test has no device, so that ctest can tell a skip from a pass
// (SKIP_REGULAR_EXPRESSION).
inline constexpr char kParitySkipMarker[] = "GG_PARITY_SKIPPED";
// Set (to anything but "" or "0") to make a missing device a failure.
inline constexpr char kRequireVulkanEnv[] = "GRAPHGRAD_REQUIRE_VULKAN";

struct Tolerance {
  double nmse = 1e-7;
  double max_abs = 1e-4;  // scaled by max(1, max |reference|)
  bool exact = false;     // every element == (bit-identical but for the sign of zero)
};

// One input placeholder. Values: `values`/`ivalues` when given (for the
// largest batch the case runs, truncated for smaller ones: so batch 1 is the
// first item of batch 3), else `gen(n)` when set, else uniform in [lo, hi)
// (f32) or in [0, classes) (i32).
struct ParityInput {
  Shape shape;                 // may start with kBatch
  DType dtype = DType::f32;
  bool differentiable = true;  // f32 only: gradients are taken with respect to it
  double lo = -1, hi = 1;
  int32_t classes = 10;
  std::function<std::vector<float>(int64_t n)> gen = {};
  std::function<std::vector<int32_t>(int64_t n)> igen = {};

  static ParityInput f32(Shape s, double lo = -1, double hi = 1) {
    ParityInput p;
    p.shape = std::move(s), p.lo = lo, p.hi = hi;
    return p;
  }
  // Distinct values (no ties in a max window, none near 0): see distinct_values.
  static ParityInput f32_distinct(Shape s, uint64_t seed = 7);
  static ParityInput f32_const(Shape s, std::vector<float> v);  // not differentiable
  static ParityInput i32(Shape s, int32_t classes);              // random labels
  static ParityInput i32_const(Shape s, std::vector<int32_t> v);
};

using Builder = std::function<NodeId(Graph&, const std::vector<NodeId>&)>;

struct ParityCase {
  std::string name;
  Builder build;
  std::vector<ParityInput> inputs;
  bool grads = false;           // also compare vjp w.r.t. the differentiable f32 inputs
  Tolerance tol = {};           // for every target
  bool exact_output = false;    // the forward output bit-identical even when tol is not exact
  // Run in this order on one executable compiled for the largest (once, at
  // batch 1, when no input has a batch dimension).
  std::vector<int64_t> batches = {1, 3};
  // Op names that must appear among the scheduled nodes (e.g. that vjp
  // really produced conv2d_backward_weight); checked before any backend runs.
  std::vector<std::string> expect_ops = {};
};

// The comparison of one tensor.
struct Comparison {
  std::string what;  // "conv2d \"conv2d_3\" [N,4,5,5] @ batch 3"
  Shape shape;       // resolved
  size_t count = 0;
  double nmse = 0, max_abs = 0, ref_max_abs = 0;
  size_t worst = 0;            // flat index of the largest |a - b|
  float got = 0, want = 0;     // the values there
  size_t nonfinite = 0;        // NaN/Inf elements in either
  size_t first_nonfinite = 0;
  size_t mismatches = 0;       // elements with a != b
  Tolerance tol;
  bool ok = true;
  std::string message() const;  // one line: the verdict, NMSE, max-abs and the worst element
};

// Compares `got` (backend under test) against `want` (the reference).
Comparison compare(const std::string& what, const Shape& shape, std::span<const float> got,
                   std::span<const float> want, const Tolerance& tol);

struct ParityResult {
  std::string backend, reference;
  std::vector<Comparison> comparisons;  // every target at every batch
  std::vector<std::string> ops;         // op names scheduled, sorted, unique
  std::string error;                    // a build/compile/run exception, or a missing expected op
  bool ok() const;
  std::string report() const;           // the failing comparisons (all of them when verbose)
  // The worst comparison by NMSE relative to its tolerance (for a summary table).
  const Comparison* worst() const;
};

// Builds the case's graph once, makes `reference` and `backend` from it,
// compiles the output (and gradients) on both and compares them at every
// batch. Any exception (graph building, either backend's make_backend,
// compile, run or fetch) lands in `error`, naming the stage and backend: call
// backend_unavailable() first to tell "no device" apart from a failure.
ParityResult run_parity(const ParityCase& c, const std::string& backend = "vulkan",
                        const std::string& reference = "cpu", uint64_t seed = 1,
                        const BackendOptions& options = BackendOptions{2, {}});

// Spread-apart values in random order: no two equal, none within gap/2 of 0.
std::vector<float> distinct_values(int64_t count, uint64_t seed, double gap = 0.05);

// Whether the backend can be created at all (on a graph with one
// placeholder): nullopt when it can, else the BackendError's message. Tried
// once per backend name; later calls return the cached answer.
std::optional<std::string> backend_unavailable(const std::string& backend);
// True when GRAPHGRAD_REQUIRE_VULKAN is set to something other than "" or "0".
bool vulkan_required();
// True when the vulkan backend can run here. Otherwise a failure when
// GRAPHGRAD_REQUIRE_VULKAN is set, else a skip message (kParitySkipMarker)
// and false: `if (!test::vulkan_or_skip()) return;`.
bool vulkan_or_skip();

// Sets (or, with nullptr, unsets) an environment variable for one scope,
// restoring what was there: the Vulkan tests force the backend's testing
// switches (GRAPHGRAD_VULKAN_*) this way, read when a backend is made.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Reads a parameter or state through a backend.
std::vector<float> read_variable(const Backend& b, NodeId id);

}  // namespace gg::test
