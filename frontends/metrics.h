// Keras's metrics, computed on the host from a batch's fetched outputs: the
// sum over the batch's items (fit and evaluate add the sums of every batch,
// and of every rank, and divide by the item count).
#pragma once
#include <cstdint>

#include "training_types.h"

namespace gg::metrics {

struct Batch {
  int64_t items = 0, width = 0;           // outputs per item
  const float* out = nullptr;             // [items, width]: the model's output
  const float* argmax_scores = nullptr;   // [items, width]: what argmax accuracy compares (logits or out)
  const int32_t* labels = nullptr;        // class ids, or null
  const float* targets = nullptr;         // [items, width] float targets, or null
  bool binary = false;                    // the loss is binary_crossentropy ("accuracy" is binary accuracy)
};

double sum(MetricKind kind, const Batch& b);

}  // namespace gg::metrics
