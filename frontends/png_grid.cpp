#include "png_grid.h"

#include <png.h>

#include "atomic_file.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace gg::data {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw DataError(path.string() + ": " + what);
}

struct PngError {
  char msg[256] = "unknown libpng error";
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* err = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(err->msg, sizeof err->msg, "%s", msg);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

// Where libpng's output goes: a string, written to disk in one atomic step.
// A C callback, so a failed append (bad_alloc) becomes a libpng error rather
// than an exception through C frames.
struct PngSink {
  std::string* bytes;
};

void on_png_write(png_structp png, png_bytep data, png_size_t length) {
  auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
  try {
    sink->bytes->append(reinterpret_cast<const char*>(data), length);
  } catch (...) {
    png_error(png, "out of memory");
  }
}

void on_png_flush(png_structp) {}

// libpng reports errors by longjmp, which must not skip C++ destructors: this
// frame holds only trivially destructible locals, and reports failure by
// returning false with the message in `err`.
bool encode_png(PngSink* sink, const uint8_t* pixels, uint32_t width, uint32_t height, PngError* err) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, on_png_error, on_png_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, sink, on_png_write, on_png_flush);
  png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (uint32_t y = 0; y < height; ++y) png_write_row(png, pixels + size_t{y} * width);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

void write_digit_grid(const fs::path& out, const MnistSplit& split, int rows, int cols,
                      uint64_t seed) {
  if (rows <= 0 || cols <= 0)
    fail(out, "bad grid shape " + std::to_string(rows) + " x " + std::to_string(cols));
  if (split.count == 0 || split.rows == 0 || split.cols == 0)
    fail(out, "no images to draw (the split is empty)");
  const size_t image_size = split.rows * split.cols;
  if (split.images.size() != split.count * image_size)
    fail(out, "inconsistent split: " + std::to_string(split.images.size()) + " pixels for " +
                  std::to_string(split.count) + " images of " + std::to_string(split.rows) +
                  " x " + std::to_string(split.cols));
  const uint64_t width = uint64_t(cols) * split.cols, height = uint64_t(rows) * split.rows;
  if (width > 1'000'000 || height > 1'000'000 || width * height > (uint64_t{1} << 30))
    fail(out, "grid too large: " + std::to_string(width) + " x " + std::to_string(height));

  // Fisher-Yates with rng() % n rather than std::uniform_int_distribution, whose
  // output differs between standard libraries: the same seed gives the same
  // picture everywhere. Only the first `cells` positions need shuffling.
  const size_t cells = size_t(rows) * size_t(cols);
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(split.count);
  std::iota(order.begin(), order.end(), size_t{0});
  for (size_t i = 0; i < std::min(cells, order.size() - 1); ++i)
    std::swap(order[i], order[i + rng() % (order.size() - i)]);

  std::vector<uint8_t> pixels(width * height);
  for (size_t cell = 0; cell < cells; ++cell) {
    const uint8_t* img = split.images.data() + order[cell % order.size()] * image_size;
    const size_t top = (cell / cols) * split.rows, left = (cell % cols) * split.cols;
    for (size_t y = 0; y < split.rows; ++y)
      std::memcpy(&pixels[(top + y) * width + left], img + y * split.cols, split.cols);
  }

  std::string bytes;
  PngSink sink{&bytes};
  PngError err;
  if (!encode_png(&sink, pixels.data(), uint32_t(width), uint32_t(height), &err)) fail(out, std::string("libpng error: ") + err.msg);
  try {
    io::write_file_atomically(out, bytes);  // readers never see half a file
  } catch (const io::IoError& e) {
    throw DataError(e.what());
  }
}

}  // namespace gg::data
