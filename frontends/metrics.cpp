#include "metrics.h"

#include <cmath>

#include <graphgrad/graph/graph.h>

namespace gg::metrics {
namespace {
int64_t argmax(const float* row, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (row[i] > row[best]) best = i;
  return best;
}
// Item i's target at position j: the float target, or the class id as a one-hot
// row (as the 0/1 value itself for a single output).
float target(const Batch& b, int64_t i, int64_t j) {
  if (b.targets) return b.targets[i * b.width + j];
  const int32_t label = b.labels[i];
  return b.width == 1 ? static_cast<float>(label) : (label == j ? 1.0f : 0.0f);
}
}  // namespace

double sum(MetricKind kind, const Batch& b) {
  if (!b.labels && !b.targets) throw GraphError("metrics: a batch without labels or targets");
  if (kind == MetricKind::accuracy && b.binary) kind = MetricKind::binary_accuracy;
  double total = 0;
  for (int64_t i = 0; i < b.items; ++i) {
    const float* o = b.out + i * b.width;
    switch (kind) {
      case MetricKind::accuracy: {
        const int64_t want = b.targets ? argmax(b.targets + i * b.width, b.width) : b.labels[i];
        total += argmax(b.argmax_scores + i * b.width, b.width) == want ? 1.0 : 0.0;
        break;
      }
      case MetricKind::binary_accuracy: {
        double hits = 0;
        for (int64_t j = 0; j < b.width; ++j) hits += ((o[j] > 0.5f) == (target(b, i, j) > 0.5f)) ? 1.0 : 0.0;
        total += hits / double(b.width);
        break;
      }
      case MetricKind::mae: {
        double err = 0;
        for (int64_t j = 0; j < b.width; ++j) err += std::abs(double(o[j]) - double(target(b, i, j)));
        total += err / double(b.width);
        break;
      }
      case MetricKind::count_: throw GraphError("metrics: kind out of range");
    }
  }
  return total;
}

}  // namespace gg::metrics
