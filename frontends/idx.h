#pragma once
// Strict loader for IDX files (the MNIST / Fashion-MNIST format), raw or gzip.
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <graphgrad/graph/error.h>

namespace gg::data {

// Every data error names the file at fault in what().
class DataError : public Error {
 public:
  using Error::Error;
};

struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> bytes;
};

// Reads an IDX file of unsigned bytes (type code 0x08), raw or gzip (detected by
// the 1f 8b magic, read with zlib). Rank must be 1..4, every dimension non-zero,
// the payload at most 1 GiB and exactly as long as the header declares.
IdxArray read_idx(const std::filesystem::path& path);
// The same for a file's bytes already in memory; errors name `name` (the fuzzer's entry).
IdxArray read_idx_bytes(std::span<const uint8_t> bytes, const std::filesystem::path& name);

struct MnistSplit {
  size_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> images;  // count*rows*cols, row-major
  std::vector<uint8_t> labels;  // count
  std::filesystem::path images_file, labels_file;  // where they were read from, for messages
};

// split is "train" or "test": reads dir/{train|t10k}-images-idx3-ubyte[.gz] and
// -labels-idx1-ubyte[.gz] (prefers .gz when both exist).
// limit > 0 keeps only the first `limit` samples (all of them if there are fewer).
// Checks images rank 3 / labels rank 1, equal counts, labels 0..9.
MnistSplit load_mnist(const std::filesystem::path& dir, std::string_view split, size_t limit = 0);

}  // namespace gg::data
