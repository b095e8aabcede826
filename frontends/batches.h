// The batches of an epoch, as Sequential::fit() takes them: a shuffled order
// of the sample indices, cut into global batches, each split among the ranks of
// a data-parallel run. Fills caller-owned buffers (no allocation per step) with
// the items (augmented, when asked) and their class ids or float targets.
//
//   BatchIterator it(data, {.batch_size = 128, .seed = 7});
//   std::vector<float> xb(it.capacity() * data.item_floats());
//   std::vector<int32_t> yb(it.capacity());
//   for (int epoch = 1; epoch <= epochs; ++epoch) {
//     it.start_epoch(epoch);
//     for (int64_t s = 0; s < it.steps(); ++s) {
//       const BatchStep b = it.step(s);
//       it.fill_items(b, xb);
//       it.fill_class_ids(b, yb);
//       // feed b.fed rows of xb / yb; b.weight, b.first for the all-reduce and dropout
//     }
//   }
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "augment.h"
#include "dataset.h"

namespace gg {

struct BatchOptions {
  int64_t batch_size = 32;  // global, over all ranks; at most the data set's size is used (as fit() does)
  bool shuffle = true;
  uint64_t seed = 0;  // the shuffle's and the augmentation's
  int rank = 0, ranks = 1;
  std::optional<Augmentation> augment;  // applied by fill_items, per (seed, epoch, sample index)
};

// One step's share of the global batch for this rank.
struct BatchStep {
  int64_t step = 0;         // within the epoch, from 0
  int64_t global_first = 0;  // the global batch's first position in the epoch's order
  int64_t global_size = 0;   // samples in the global batch, over all ranks
  int64_t first = 0;         // this rank's first position within the global batch: [n*r/R, n*(r+1)/R)
  int64_t count = 0;         // this rank's samples; 0 when the global batch has fewer samples than ranks
  int64_t fed = 0;           // rows to feed: count, or 1 (the batch's first sample) when count is 0
  float weight = 0;          // count / global_size: this rank's share of the gradient (0 for a rank with no sample)
  std::span<const int64_t> indices;  // the data set indices of the fed rows (fed of them)
};

class BatchIterator {
 public:
  // Keeps a reference to data, which must outlive the iterator. Throws DataError
  // on invalid data or options (batch_size < 1, rank outside [0, ranks)).
  BatchIterator(const Dataset& data, BatchOptions options);

  int64_t batch_size() const { return batch_; }  // global
  int64_t steps() const { return steps_; }       // per epoch: the last batch may be short
  // The most rows one rank is fed in a step: the item / label buffers' length in items.
  int64_t capacity() const { return capacity_; }
  int epoch() const { return epoch_; }
  std::span<const int64_t> order() const { return order_; }  // the current epoch's sample order

  // Begins an epoch (counted from 1). With shuffle, epoch e's order is
  // 0, 1, 2, ... shuffled in place by std::mt19937_64(seed * 1000003 + k) for
  // k = 1..e in turn: a function of (seed, epoch) alone, however the epochs are
  // reached (an epoch that does not follow the last one begun replays the
  // shuffles before it), so a resumed run sees an uninterrupted run's order.
  // Without shuffle the order stays 0, 1, 2, ...; the epoch still keys the augmentation.
  void start_epoch(int epoch);
  BatchStep step(int64_t s) const;

  // Each writes the fed rows, one after another; out must hold fed rows at least.
  void fill_items(const BatchStep& b, std::span<float> out) const;       // fed * item_floats()
  void fill_class_ids(const BatchStep& b, std::span<int32_t> out) const;  // fed; the data needs class ids
  void fill_targets(const BatchStep& b, std::span<float> out) const;     // fed * target_floats(); needs targets

 private:
  const Dataset& data_;
  BatchOptions options_;
  std::optional<Augmenter> augmenter_;
  int64_t batch_, steps_, capacity_;
  int epoch_ = 0;
  std::vector<int64_t> order_;
};

}  // namespace gg
