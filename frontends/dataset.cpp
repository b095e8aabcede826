#include "dataset.h"

namespace gg {

Dataset to_dataset(const data::MnistSplit& split) {
  Dataset d;
  d.item_shape = Shape{1, static_cast<int64_t>(split.rows), static_cast<int64_t>(split.cols)};
  d.x.resize(split.images.size());
  for (size_t i = 0; i < split.images.size(); ++i) d.x[i] = static_cast<float>(split.images[i]) / 255.0f;
  d.y.assign(split.labels.begin(), split.labels.end());
  return d;
}

}  // namespace gg
