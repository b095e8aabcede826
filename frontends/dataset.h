// The data pipeline between the IDX loader and a model: images as f32 in
// [0, 1], NCHW, labels as i32. Items are stored either as f32 (`x`) or, as
// to_dataset() does, as 8-bit pixels (`pixels`, a quarter of the memory:
// MNIST's 60,000 training images take 47 MB instead of 188 MB) that are
// turned into floats batch by batch.
#pragma once
#include <cstdint>
#include <vector>

#include <graphgrad/graph/shape.h>

#include "idx.h"

namespace gg {

struct Dataset {
  Shape item_shape;             // one image: [C,H,W]
  std::vector<float> x;         // size() * item_shape.numel() floats, item after item; or empty, when:
  std::vector<uint8_t> pixels;  // size() * item_shape.numel() bytes, each item value read as byte / 255
  std::vector<int32_t> y;       // size() labels
  int64_t size() const { return static_cast<int64_t>(y.size()); }
  int64_t item_floats() const { return item_shape.numel(); }
  // How many item values are stored (x's or pixels' size).
  int64_t stored_values() const { return static_cast<int64_t>(x.empty() ? pixels.size() : x.size()); }

  // Writes items [first, first + count) as f32 to out (count * item_floats() floats).
  void copy_items(int64_t first, int64_t count, float* out) const;
  // Items from `first` on as f32 in place when stored as f32, else nullptr (then copy_items).
  const float* floats_at(int64_t first) const { return x.empty() ? nullptr : x.data() + first * item_floats(); }
};

// Grayscale images become [1,rows,cols] items scaled from [0,255] to [0,1],
// kept as bytes.
Dataset to_dataset(const data::MnistSplit& split);
Dataset to_dataset(data::MnistSplit&& split);  // takes the pixels without a copy

}  // namespace gg
