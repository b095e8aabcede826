// Central-difference gradient checking on the CPU backend. A case builds
// y = f(inputs) on placeholders; the check derives vjp(y, r) for a random r,
// runs it, and compares each sampled input element's analytic gradient with
// (L(x + eps) - L(x - eps)) / 2eps, where L = sum(y * r) in double.
#pragma once
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <graphgrad/graph/graph.h>

namespace gg::test {

struct GradInput {
  Shape shape;                       // may start with kBatch
  DType dtype = DType::f32;
  bool differentiable = true;
  std::vector<float> values;         // f32 values; empty: uniform in [-1, 1)
  std::vector<int32_t> ivalues;      // i32 values (labels, counters)
};

struct GradCheckResult {
  double max_abs_error = 0, max_rel_error = 0, rel_norm_error = 0;
  int checked = 0, failed = 0;
  std::string first_failure;
};

// tolerance per element: |analytic - numeric| <= atol + rtol * |numeric|
GradCheckResult grad_check(const std::function<NodeId(Graph&, const std::vector<NodeId>&)>& build,
                           std::vector<GradInput> inputs, int64_t batch, uint64_t seed = 1, double eps = 1e-2,
                           double atol = 2e-3, double rtol = 2e-2, int max_samples = 48);

// Values spread apart so no two in a window tie and none sits near a relu kink.
std::vector<float> spread_values(int64_t count, uint64_t seed, double min_gap = 0.05);

}  // namespace gg::test
