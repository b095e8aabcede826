// Dataset validation, the factories from user arrays, and the validation split (see dataset.h).
#include "dataset.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

namespace gg {

namespace {

[[noreturn]] void fail(std::string_view what, const std::string& why) { throw DataError(fmt::format("{}: {}", what, why)); }

void check_shape(std::string_view what, const Shape& s, const char* role) {
  if (s.rank() == 0 && std::string_view(role) == "item") fail(what, "an item shape needs at least one dimension, got []");
  for (int64_t d : s.dims())
    if (d < 1) fail(what, fmt::format("{} shape {} needs every dimension >= 1", role, s.str()));
}

// Moves the tail [from, end) of v into a new vector and cuts v there.
template <class T>
std::vector<T> cut_tail(std::vector<T>& v, int64_t from) {
  std::vector<T> tail(v.begin() + from, v.end());
  v.resize(static_cast<size_t>(from));  // keeps the allocation: no copy of the head
  return tail;
}

}  // namespace

int64_t Dataset::size() const {
  if (!y.empty()) return static_cast<int64_t>(y.size());
  if (!targets.empty()) return target_floats() > 0 ? static_cast<int64_t>(targets.size()) / target_floats() : 0;
  return item_floats() > 0 ? stored_values() / item_floats() : 0;
}

void Dataset::validate(std::string_view what) const {
  check_shape(what, item_shape, "item");
  if (!x.empty() && !pixels.empty()) fail(what, "the data set holds both f32 items (x) and 8-bit items (pixels); keep one");
  if (!y.empty() && !targets.empty()) fail(what, "the data set holds both class ids (y) and float targets; keep one");
  const int64_t per = item_floats(), stored = stored_values();
  if (labels() == LabelKind::none && stored % per != 0)
    fail(what, fmt::format("{} values are not a whole number of items of {} ({} values each)", stored, item_shape.str(), per));
  if (labels() == LabelKind::targets) {
    check_shape(what, target_shape, "target");
    const auto t = static_cast<int64_t>(targets.size());
    if (t % target_floats() != 0)
      fail(what, fmt::format("{} target values are not a whole number of targets of {} ({} values each)", t,
                             target_shape.str(), target_floats()));
    if (stored % per == 0 && stored / per != t / target_floats())
      fail(what, fmt::format("{} items of {} but {} targets of {} ({} values); one target per item", stored / per,
                             item_shape.str(), t / target_floats(), target_shape.str(), t));
  }
  const int64_t n = size();
  if (stored != n * per)
    fail(what, fmt::format("{} items of {} need {} values, got {}", n, item_shape.str(), n * per, stored));
  for (size_t i = 0; i < y.size(); ++i)
    if (y[i] < 0) fail(what, fmt::format("item {} has class id {}; class ids must be >= 0", i, y[i]));
}

void Dataset::copy_items(int64_t first, int64_t count, float* out) const {
  const size_t begin = static_cast<size_t>(first * item_floats()), n = static_cast<size_t>(count * item_floats());
  if (!x.empty()) {
    std::copy_n(x.data() + begin, n, out);
    return;
  }
  // byte / 255.0f, exactly as a float dataset made from the same bytes holds it.
  const uint8_t* p = pixels.data() + begin;
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(p[i]) / 255.0f;
}

Dataset Dataset::with_class_ids(Shape item_shape, std::vector<float> items, std::vector<int32_t> class_ids, int64_t classes) {
  Dataset d;
  d.item_shape = std::move(item_shape);
  d.x = std::move(items);
  d.y = std::move(class_ids);
  if (d.y.empty()) fail("Dataset", "no class ids, so no items");
  d.validate();
  if (classes > 0)
    for (size_t i = 0; i < d.y.size(); ++i)
      if (d.y[i] >= classes) fail("Dataset", fmt::format("item {} has class id {}, but there are {} classes (0..{})", i, d.y[i], classes, classes - 1));
  return d;
}

Dataset Dataset::with_targets(Shape item_shape, std::vector<float> items, Shape target_shape, std::vector<float> targets) {
  Dataset d;
  d.item_shape = std::move(item_shape);
  d.x = std::move(items);
  d.target_shape = std::move(target_shape);
  d.targets = std::move(targets);
  check_shape("Dataset", d.target_shape, "target");
  if (d.targets.empty()) fail("Dataset", "no targets, so no items");
  d.validate();
  return d;
}

Dataset Dataset::unlabeled(Shape item_shape, std::vector<float> items) {
  Dataset d;
  d.item_shape = std::move(item_shape);
  d.x = std::move(items);
  d.validate();
  if (d.x.empty()) fail("Dataset", "no items");
  return d;
}

Dataset to_dataset(data::MnistSplit&& split) {
  Dataset d;
  d.item_shape = Shape{1, static_cast<int64_t>(split.rows), static_cast<int64_t>(split.cols)};
  d.pixels = std::move(split.images);
  d.y.assign(split.labels.begin(), split.labels.end());
  return d;
}

Dataset to_dataset(const data::MnistSplit& split) { return to_dataset(data::MnistSplit(split)); }

TrainValidation split_validation(Dataset data, double fraction) {
  if (!(fraction > 0 && fraction < 1))
    fail("split_validation", fmt::format("fraction {} must lie in (0, 1) (Keras's validation_split)", fraction));
  data.validate("split_validation");
  const int64_t n = data.size();
  // Keras: split_at = floor(n * (1 - validation_split)), in doubles as Python computes it.
  const auto split_at = static_cast<int64_t>(std::floor(static_cast<double>(n) * (1.0 - fraction)));
  if (split_at == 0 || split_at == n)
    fail("split_validation", fmt::format("{} items are too few to split a fraction {} off: the {} part would be empty",
                                         n, fraction, split_at == 0 ? "training" : "validation"));
  TrainValidation out;
  Dataset& v = out.validation;
  v.item_shape = data.item_shape;
  v.target_shape = data.target_shape;
  const int64_t per = data.item_floats();
  if (!data.x.empty()) v.x = cut_tail(data.x, split_at * per);
  if (!data.pixels.empty()) v.pixels = cut_tail(data.pixels, split_at * per);
  if (!data.y.empty()) v.y = cut_tail(data.y, split_at);
  if (!data.targets.empty()) v.targets = cut_tail(data.targets, split_at * data.target_floats());
  out.train = std::move(data);
  return out;
}

}  // namespace gg
