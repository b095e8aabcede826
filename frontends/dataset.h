// The data a model trains on: items of any shape, stored as f32 (`x`) or, as
// to_dataset() does for images, as 8-bit pixels (`pixels`, a quarter of the
// memory: MNIST's 60,000 training images take 47 MB instead of 188 MB) that
// are turned into floats batch by batch; and per item either a class id (`y`)
// or a float target of `target_shape` (`targets`), or nothing (predict()).
// The factories check a user's arrays and throw DataError naming what does not fit.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include <graphgrad/graph/shape.h>

#include "idx.h"

namespace gg {

using data::DataError;  // a gg::Error; every Dataset message starts with "Dataset"

enum class LabelKind { none, class_ids, targets };

struct Dataset {
  Shape item_shape;             // one item, e.g. an image [C,H,W] or a feature vector [F]
  std::vector<float> x;         // size() * item_shape.numel() floats, item after item; or empty, when:
  std::vector<uint8_t> pixels;  // size() * item_shape.numel() bytes, each item value read as byte / 255
  std::vector<int32_t> y;       // size() class ids; or empty, when:
  Shape target_shape;           // one item's float target, e.g. [1] (regression) or [784] (autoencoder)
  std::vector<float> targets;   // size() * target_shape.numel() floats, item after item

  // Items: from the labels when there are any (class ids first), else from the stored values.
  int64_t size() const;
  int64_t item_floats() const { return item_shape.numel(); }
  int64_t target_floats() const { return target_shape.numel(); }
  LabelKind labels() const { return !y.empty() ? LabelKind::class_ids : !targets.empty() ? LabelKind::targets : LabelKind::none; }
  // How many item values are stored (x's or pixels' size).
  int64_t stored_values() const { return static_cast<int64_t>(x.empty() ? pixels.size() : x.size()); }

  // Throws DataError, naming `what` (e.g. "fit()") and the mismatch, unless the
  // fields agree: a valid item shape, one of x / pixels, at most one of y /
  // targets, and every array as long as size() items need. Empty is allowed.
  void validate(std::string_view what = "Dataset") const;

  // Writes items [first, first + count) as f32 to out (count * item_floats() floats).
  void copy_items(int64_t first, int64_t count, float* out) const;
  // Items from `first` on as f32 in place when stored as f32, else nullptr (then copy_items).
  const float* floats_at(int64_t first) const { return x.empty() ? nullptr : x.data() + first * item_floats(); }
  const float* target_at(int64_t index) const { return targets.data() + index * target_floats(); }

  // From the user's arrays, moved in (no copy when passed with std::move).
  // Items of item_shape (every dimension >= 1), one class id each; classes > 0
  // also checks every id is < classes. Ids must be >= 0.
  static Dataset with_class_ids(Shape item_shape, std::vector<float> items, std::vector<int32_t> class_ids,
                                int64_t classes = 0);
  // Items and one float target of target_shape each (regression, one-hot, autoencoders).
  static Dataset with_targets(Shape item_shape, std::vector<float> items, Shape target_shape, std::vector<float> targets);
  // Items alone, for predict().
  static Dataset unlabeled(Shape item_shape, std::vector<float> items);
};

// Grayscale images become [1,rows,cols] items scaled from [0,255] to [0,1],
// kept as bytes.
Dataset to_dataset(const data::MnistSplit& split);
Dataset to_dataset(data::MnistSplit&& split);  // takes the pixels without a copy

// Keras's validation_split: the last `fraction` of the items (in stored order,
// before any shuffling) become the validation set. Keras's count, too: the
// training part keeps floor(size * (1 - fraction)) items. fraction must lie in
// (0, 1) and leave both parts non-empty. Pass the data with std::move: the
// training part then keeps the original arrays (cut short, not copied) and only
// the validation tail is copied.
struct TrainValidation {
  Dataset train, validation;
};
TrainValidation split_validation(Dataset data, double fraction);

}  // namespace gg
