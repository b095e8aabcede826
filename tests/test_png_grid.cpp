// Tests for write_digit_grid: the PNG header, the pixels read back with libpng,
// determinism of the seed, and errors.
#include <doctest/doctest.h>
#include <png.h>

#include <graphgrad/frontends/idx.h>
#include <graphgrad/frontends/png_grid.h>

#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

namespace fs = std::filesystem;
using gg::data::DataError;
using gg::data::MnistSplit;
using gg::data::write_digit_grid;
using Bytes = std::vector<uint8_t>;

namespace {

struct TempDir : gg::test::TempDir {
  TempDir() : gg::test::TempDir("gg_png_test_") {}
};

Bytes read_raw(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

uint32_t be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

// `count` images of rows x cols, image i filled with the value i.
MnistSplit uniform_split(size_t count, size_t rows, size_t cols) {
  MnistSplit s;
  s.count = count;
  s.rows = rows;
  s.cols = cols;
  for (size_t i = 0; i < count; ++i) s.images.insert(s.images.end(), rows * cols, uint8_t(i));
  s.labels.assign(count, 0);
  return s;
}

struct Gray {
  uint32_t width = 0, height = 0;
  Bytes pixels;
};

Gray read_png(const fs::path& p) {  // libpng's simplified API: no setjmp needed
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&img, p.c_str()) != 0);
  img.format = PNG_FORMAT_GRAY;
  Gray g{img.width, img.height, Bytes(PNG_IMAGE_SIZE(img))};
  REQUIRE(png_image_finish_read(&img, nullptr, g.pixels.data(), 0, nullptr) != 0);
  return g;
}

}  // namespace

TEST_CASE("write_digit_grid writes a grayscale PNG of the right size") {
  TempDir t;
  const fs::path out = t.path / "grid.png";
  const MnistSplit split = uniform_split(100, 28, 28);
  write_digit_grid(out, split, 4, 16, 7);

  const Bytes file = read_raw(out);
  REQUIRE(file.size() > 33);
  CHECK(png_sig_cmp(file.data(), 0, 8) == 0);
  CHECK(std::string(file.begin() + 12, file.begin() + 16) == "IHDR");
  CHECK(be32(&file[16]) == 16 * 28);  // width
  CHECK(be32(&file[20]) == 4 * 28);   // height
  CHECK(file[24] == 8);               // bit depth
  CHECK(file[25] == PNG_COLOR_TYPE_GRAY);
  CHECK_FALSE(fs::exists(t.path / "grid.png.tmp"));

  // Each 28x28 tile is one whole image, and with 100 to draw from no image repeats.
  const Gray g = read_png(out);
  REQUIRE(g.width == 16 * 28);
  REQUIRE(g.height == 4 * 28);
  std::set<uint8_t> seen;
  for (uint32_t ty = 0; ty < 4; ++ty)
    for (uint32_t tx = 0; tx < 16; ++tx) {
      const uint8_t v = g.pixels[(ty * 28) * g.width + tx * 28];
      bool uniform = true;
      for (uint32_t y = 0; y < 28; ++y)
        for (uint32_t x = 0; x < 28; ++x)
          uniform = uniform && g.pixels[(ty * 28 + y) * g.width + tx * 28 + x] == v;
      CHECK(uniform);
      seen.insert(v);
    }
  CHECK(seen.size() == 64);
}

TEST_CASE("write_digit_grid uses the split's image shape and is deterministic") {
  TempDir t;
  const MnistSplit split = uniform_split(3, 5, 7);  // fewer images than cells: repeats
  write_digit_grid(t.path / "a.png", split, 2, 3, 1);
  write_digit_grid(t.path / "b.png", split, 2, 3, 1);
  const Gray g = read_png(t.path / "a.png");
  CHECK(g.width == 3 * 7);
  CHECK(g.height == 2 * 5);
  CHECK(read_raw(t.path / "a.png") == read_raw(t.path / "b.png"));

  const MnistSplit many = uniform_split(200, 4, 4);
  write_digit_grid(t.path / "c.png", many, 4, 16, 1);
  write_digit_grid(t.path / "d.png", many, 4, 16, 2);
  CHECK(read_raw(t.path / "c.png") != read_raw(t.path / "d.png"));
  write_digit_grid(t.path / "c.png", many, 4, 16, 2);  // replaces an existing file
  CHECK(read_raw(t.path / "c.png") == read_raw(t.path / "d.png"));
}

TEST_CASE("write_digit_grid errors name the path") {
  TempDir t;
  const fs::path out = t.path / "no_such_dir" / "grid.png";
  const MnistSplit split = uniform_split(10, 28, 28);
  auto message = [&](const fs::path& p, const MnistSplit& s, int rows) -> std::string {
    try {
      write_digit_grid(p, s, rows, 16);
    } catch (const DataError& e) {
      return e.what();
    }
    return "<no DataError>";
  };
  std::string msg = message(out, split, 4);
  CAPTURE(msg);
  CHECK(msg.find(out.string()) != std::string::npos);
  CHECK(msg.find("cannot create") != std::string::npos);

  msg = message(t.path / "empty.png", MnistSplit{}, 4);
  CHECK(msg.find("empty.png") != std::string::npos);
  msg = message(t.path / "zero.png", split, 0);
  CHECK(msg.find("bad grid shape") != std::string::npos);
}

#ifdef GG_MNIST_DIR
TEST_CASE("write_digit_grid draws MNIST digits") {
  TempDir t;
  const auto split = gg::data::load_mnist(GG_MNIST_DIR, "test", 1000);
  write_digit_grid(t.path / "mnist.png", split);
  const Gray g = read_png(t.path / "mnist.png");
  CHECK(g.width == 16 * 28);
  CHECK(g.height == 4 * 28);
}
#endif
