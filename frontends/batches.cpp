// BatchIterator: fit()'s epoch order, rank shares and buffer fills (see batches.h).
#include "batches.h"

#include <algorithm>
#include <numeric>
#include <random>

#include <fmt/format.h>

namespace gg {

BatchIterator::BatchIterator(const Dataset& data, BatchOptions options) : data_(data), options_(std::move(options)) {
  data_.validate("BatchIterator");
  if (data_.size() == 0) throw DataError("BatchIterator: the data set is empty");
  if (options_.batch_size < 1) throw DataError(fmt::format("BatchIterator: batch_size {} must be >= 1", options_.batch_size));
  if (options_.ranks < 1 || options_.rank < 0 || options_.rank >= options_.ranks)
    throw DataError(fmt::format("BatchIterator: rank {} of {} ranks: needs 0 <= rank < ranks", options_.rank, options_.ranks));
  if (options_.augment) augmenter_.emplace(*options_.augment, data_.item_shape, options_.seed);
  batch_ = std::min(options_.batch_size, data_.size());
  steps_ = (data_.size() + batch_ - 1) / batch_;
  capacity_ = std::max<int64_t>(1, (batch_ + options_.ranks - 1) / options_.ranks);
  order_.resize(static_cast<size_t>(data_.size()));
  std::iota(order_.begin(), order_.end(), 0);
}

void BatchIterator::start_epoch(int epoch) {
  if (epoch < 1) throw DataError(fmt::format("BatchIterator: epoch {} (epochs count from 1)", epoch));
  // Each epoch shuffles the previous epoch's order. An epoch that does not
  // follow the last one begun (a resumed run, say) replays the shuffles from
  // 0, 1, 2, ..., so an epoch's order depends on (seed, epoch) alone and a
  // resumed run sees exactly the data order of an uninterrupted one.
  int from = epoch_ + 1;
  if (epoch != epoch_ + 1) {
    std::iota(order_.begin(), order_.end(), 0);
    from = 1;
  }
  epoch_ = epoch;
  if (!options_.shuffle) return;
  for (int e = from; e <= epoch; ++e) {
    std::mt19937_64 rng(options_.seed * 1000003ULL + static_cast<uint64_t>(e));
    std::shuffle(order_.begin(), order_.end(), rng);
  }
}

BatchStep BatchIterator::step(int64_t s) const {
  if (s < 0 || s >= steps_) throw DataError(fmt::format("BatchIterator: step {} outside the epoch's {} steps", s, steps_));
  const int64_t b0 = s * batch_, n = std::min(batch_, data_.size() - b0);
  const int64_t r = options_.rank, R = options_.ranks;
  const int64_t lo = n * r / R, hi = n * (r + 1) / R, mine = hi - lo;
  // A rank left without a sample (n < ranks) is fed the batch's first one with
  // weight 0: it still joins the all-reduce but adds nothing.
  return {.step = s,
          .global_first = b0,
          .global_size = n,
          .first = lo,
          .count = mine,
          .fed = std::max<int64_t>(mine, 1),
          .weight = static_cast<float>(double(mine) / double(n)),
          .indices = std::span<const int64_t>(order_).subspan(static_cast<size_t>(b0 + (mine ? lo : 0)),
                                                              static_cast<size_t>(std::max<int64_t>(mine, 1)))};
}

namespace {
void check_room(size_t have, int64_t need, const char* what) {
  if (have < static_cast<size_t>(need))
    throw DataError(fmt::format("BatchIterator: {}: the buffer holds {} values, the step needs {}", what, have, need));
}
}  // namespace

void BatchIterator::fill_items(const BatchStep& b, std::span<float> out) const {
  const int64_t per = data_.item_floats();
  check_room(out.size(), b.fed * per, "fill_items");
  if (augmenter_) {
    augmenter_->apply_batch(data_, b.indices, epoch_, out.data());
    return;
  }
  for (int64_t i = 0; i < b.fed; ++i) data_.copy_items(b.indices[static_cast<size_t>(i)], 1, out.data() + i * per);
}

void BatchIterator::fill_class_ids(const BatchStep& b, std::span<int32_t> out) const {
  if (data_.labels() != LabelKind::class_ids) throw DataError("BatchIterator: fill_class_ids: the data set holds no class ids (y)");
  check_room(out.size(), b.fed, "fill_class_ids");
  for (int64_t i = 0; i < b.fed; ++i) out[static_cast<size_t>(i)] = data_.y[static_cast<size_t>(b.indices[static_cast<size_t>(i)])];
}

void BatchIterator::fill_targets(const BatchStep& b, std::span<float> out) const {
  if (data_.labels() != LabelKind::targets) throw DataError("BatchIterator: fill_targets: the data set holds no float targets");
  const int64_t per = data_.target_floats();
  check_room(out.size(), b.fed * per, "fill_targets");
  for (int64_t i = 0; i < b.fed; ++i)
    std::copy_n(data_.target_at(b.indices[static_cast<size_t>(i)]), per, out.data() + i * per);
}

}  // namespace gg
