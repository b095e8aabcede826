#include "dataset.h"

#include <algorithm>

namespace gg {

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

Dataset to_dataset(data::MnistSplit&& split) {
  Dataset d;
  d.item_shape = Shape{1, static_cast<int64_t>(split.rows), static_cast<int64_t>(split.cols)};
  d.pixels = std::move(split.images);
  d.y.assign(split.labels.begin(), split.labels.end());
  return d;
}

Dataset to_dataset(const data::MnistSplit& split) { return to_dataset(data::MnistSplit(split)); }

}  // namespace gg
