#pragma once
// A grid of sample digits as one PNG, like the Keras tutorial's 4x16 figure.
#include <cstdint>
#include <filesystem>

#include "idx.h"

namespace gg::data {

// Picks rows*cols random images of `split` (seeded std::mt19937_64; distinct
// images while the split has enough, repeats otherwise) and writes them as one
// 8-bit grayscale PNG of (rows*split.rows) x (cols*split.cols) pixels. The file
// is written to `out` + ".tmp" and then renamed over `out` (atomic_file.h): a
// failed write leaves an existing `out` as it was.
// Throws DataError naming the path on any failure.
void write_digit_grid(const std::filesystem::path& out, const MnistSplit& split, int rows = 4,
                      int cols = 16, uint64_t seed = 0);

}  // namespace gg::data
