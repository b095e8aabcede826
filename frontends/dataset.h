// The data pipeline between the IDX loader and a model: images as f32 in
// [0, 1], NCHW, labels as i32.
#pragma once
#include <cstdint>
#include <vector>

#include <graphgrad/graph/shape.h>

#include "idx.h"

namespace gg {

struct Dataset {
  Shape item_shape;          // one image: [C,H,W]
  std::vector<float> x;      // size() * item_shape.numel(), item after item
  std::vector<int32_t> y;    // size() labels
  int64_t size() const { return static_cast<int64_t>(y.size()); }
  int64_t item_floats() const { return item_shape.numel(); }
};

// Grayscale images become [1,rows,cols] items scaled from [0,255] to [0,1].
Dataset to_dataset(const data::MnistSplit& split);

}  // namespace gg
