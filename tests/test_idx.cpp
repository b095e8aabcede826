// Tests for the IDX / MNIST loader: the real mirror, and every way a file can be
// broken, on small files made in a temporary folder.
#include <doctest/doctest.h>
#include <zlib.h>

#include <graphgrad/frontends/idx.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace fs = std::filesystem;
using gg::data::DataError;
using gg::data::load_mnist;
using gg::data::read_idx;
using Bytes = std::vector<uint8_t>;

namespace {

struct TempDir : gg::test::TempDir {
  TempDir() : gg::test::TempDir("gg_idx_test_") {}
};

// An IDX file: header, then `items` payload bytes (i % 10, valid labels too),
// where `items` defaults to the product of the dims.
Bytes idx_bytes(const std::vector<uint32_t>& dims, long items = -1, uint8_t type = 0x08) {
  Bytes b{0, 0, type, uint8_t(dims.size())};
  uint64_t n = 1;
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(uint8_t(d >> shift));
    n *= d;
  }
  if (items >= 0) n = uint64_t(items);
  for (uint64_t i = 0; i < n; ++i) b.push_back(uint8_t(i % 10));
  return b;
}

void write_raw(const fs::path& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  REQUIRE(f.good());
}

// mode: "wb9" compresses, "wb0" stores the bytes verbatim.
void write_gz(const fs::path& p, const Bytes& b, const char* mode = "wb9") {
  gzFile g = gzopen(p.c_str(), mode);
  REQUIRE(g != nullptr);
  if (!b.empty()) REQUIRE(gzwrite(g, b.data(), unsigned(b.size())) == int(b.size()));
  REQUIRE(gzclose(g) == Z_OK);
}

Bytes read_raw(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

Bytes noise(size_t n) {  // incompressible, so gzip cuts land inside the deflate data
  std::mt19937 rng(1);
  Bytes b(n);
  for (auto& x : b) x = uint8_t(rng());
  return b;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not a DataError> ") + e.what();
  }
  return "<no exception>";
}

}  // namespace

// Asserts that `expr` throws a DataError whose message names `file` and says `word`.
#define CHECK_DATA_ERROR(expr, file, word)                              \
  do {                                                                  \
    const std::string msg_ = error_of([&] { (void)(expr); });           \
    CAPTURE(msg_);                                                      \
    CHECK(msg_.find(fs::path(file).string()) != std::string::npos);    \
    CHECK(msg_.find(word) != std::string::npos);                        \
  } while (0)

TEST_CASE("read_idx reads raw and gzip files") {
  TempDir t;
  Bytes b = idx_bytes({3, 2, 5});
  write_raw(t / "a", b);
  write_gz(t / "a.gz", b);
  for (const char* name : {"a", "a.gz"}) {
    auto arr = read_idx(t / name);
    CHECK(arr.dims == std::vector<uint32_t>{3, 2, 5});
    CHECK(arr.bytes == Bytes(b.begin() + 16, b.end()));
  }
  // Concatenated gzip members (as `cat a.gz b.gz` makes) are one stream.
  write_gz(t / "head.gz", Bytes(b.begin(), b.begin() + 20));
  write_gz(t / "tail.gz", Bytes(b.begin() + 20, b.end()));
  Bytes cat = read_raw(t / "head.gz"), tail = read_raw(t / "tail.gz");
  cat.insert(cat.end(), tail.begin(), tail.end());
  write_raw(t / "cat.gz", cat);
  CHECK(read_idx(t / "cat.gz").bytes == Bytes(b.begin() + 16, b.end()));
}

TEST_CASE("read_idx rejects missing and empty files") {
  TempDir t;
  CHECK_DATA_ERROR(read_idx(t / "nope"), t / "nope", "missing");
  CHECK_DATA_ERROR(read_idx(t.path), t.path, "not a regular file");
  write_raw(t / "empty", {});
  CHECK_DATA_ERROR(read_idx(t / "empty"), t / "empty", "empty");
  write_gz(t / "empty.gz", {});
  CHECK_DATA_ERROR(read_idx(t / "empty.gz"), t / "empty.gz", "empty");
}

TEST_CASE("read_idx rejects bad headers") {
  TempDir t;
  auto both = [&](const std::string& name, const Bytes& b, const char* word) {
    write_raw(t / name, b);
    CHECK_DATA_ERROR(read_idx(t / name), t / name, word);
    write_gz(t / (name + ".gz"), b);
    CHECK_DATA_ERROR(read_idx(t / (name + ".gz")), t / (name + ".gz"), word);
  };
  Bytes b = idx_bytes({4});
  b[0] = 1;
  both("magic0", b, "bad magic");
  b = idx_bytes({4});
  b[1] = 0x20;
  both("magic1", b, "bad magic");
  both("float", idx_bytes({4}, -1, 0x0D), "0x0d");
  both("rank0", idx_bytes({}), "bad rank 0");
  both("rank5", idx_bytes({1, 1, 1, 1, 1}), "bad rank 5");
  both("zero", idx_bytes({3, 0, 2}), "zero dimension");
  both("absurd", idx_bytes({65536, 65536, 2}, 0), "absurd dimensions");
  both("overflow", idx_bytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 0), "absurd");
  both("short", Bytes{0, 0, 8}, "truncated header");
  both("shortdims", Bytes{0, 0, 8, 3, 0, 0, 0, 1, 0, 0}, "truncated header");
}

TEST_CASE("read_idx checks the payload against the declared size") {
  TempDir t;
  write_raw(t / "trunc", idx_bytes({10}, 9));
  CHECK_DATA_ERROR(read_idx(t / "trunc"), t / "trunc",
                   "truncated: header declares 10 items (18 bytes) but the file holds 17");
  write_gz(t / "trunc.gz", idx_bytes({10}, 9));
  CHECK_DATA_ERROR(read_idx(t / "trunc.gz"), t / "trunc.gz",
                   "truncated: header declares 10 items (18 bytes) but the decompressed data holds 17");
  write_raw(t / "long", idx_bytes({10}, 12));
  CHECK_DATA_ERROR(read_idx(t / "long"), t / "long", "trailing bytes");
  write_gz(t / "long.gz", idx_bytes({10}, 12));
  CHECK_DATA_ERROR(read_idx(t / "long.gz"), t / "long.gz", "holds 20");
}

TEST_CASE("read_idx rejects corrupt gzip") {
  TempDir t;
  Bytes payload = idx_bytes({1000});
  Bytes n = noise(1000);
  std::copy(n.begin(), n.end(), payload.begin() + 8);
  write_gz(t / "good.gz", payload);
  const Bytes good = read_raw(t / "good.gz");
  REQUIRE(read_idx(t / "good.gz").bytes.size() == 1000);

  Bytes b = good;
  b[b.size() - 8] ^= 0xFF;  // trailer: CRC-32, then ISIZE
  write_raw(t / "crc.gz", b);
  CHECK_DATA_ERROR(read_idx(t / "crc.gz"), t / "crc.gz", "CRC");

  b = good;
  b[b.size() - 1] ^= 0x01;
  write_raw(t / "isize.gz", b);
  CHECK_DATA_ERROR(read_idx(t / "isize.gz"), t / "isize.gz", "length");

  // Stored (level 0) blocks hold the bytes verbatim, so a flip there changes
  // only the data and must be caught by the CRC.
  write_gz(t / "stored.gz", payload, "wb0");
  b = read_raw(t / "stored.gz");
  auto at = std::search(b.begin(), b.end(), payload.begin(), payload.begin() + 8);
  REQUIRE(at != b.end());
  at[500] ^= 0x01;
  write_raw(t / "stored_flip.gz", b);
  CHECK_DATA_ERROR(read_idx(t / "stored_flip.gz"), t / "stored_flip.gz", "CRC");

  // In compressed data a flip may break the deflate codes or only the CRC.
  b = good;
  b[b.size() / 2] ^= 0x10;
  write_raw(t / "flip.gz", b);
  CHECK_DATA_ERROR(read_idx(t / "flip.gz"), t / "flip.gz", "corrupt gzip");

  write_raw(t / "half.gz", Bytes(good.begin(), good.begin() + long(good.size() / 2)));
  CHECK_DATA_ERROR(read_idx(t / "half.gz"), t / "half.gz", "truncated gzip");
  write_raw(t / "notrailer.gz", Bytes(good.begin(), good.end() - 4));
  CHECK_DATA_ERROR(read_idx(t / "notrailer.gz"), t / "notrailer.gz", "truncated gzip");

  b = good;
  for (char c : std::string("garbage")) b.push_back(uint8_t(c));
  write_raw(t / "garbage.gz", b);
  CHECK_DATA_ERROR(read_idx(t / "garbage.gz"), t / "garbage.gz", "trailing garbage");
}

namespace {
// Writes dir/<prefix>-images-idx3-ubyte and -labels-idx1-ubyte (gzip or raw).
void write_split(const fs::path& dir, const std::string& prefix, const Bytes& images,
                 const Bytes& labels, bool gz) {
  auto put = [gz](const fs::path& p, const Bytes& b) {
    if (gz) write_gz(p.string() + ".gz", b);
    else write_raw(p, b);
  };
  put(dir / (prefix + "-images-idx3-ubyte"), images);
  put(dir / (prefix + "-labels-idx1-ubyte"), labels);
}
}  // namespace

TEST_CASE("load_mnist on small generated splits") {
  TempDir t;
  write_split(t.path, "train", idx_bytes({6, 2, 3}), idx_bytes({6}), true);
  auto s = load_mnist(t.path, "train");
  CHECK(s.count == 6);
  CHECK(s.rows == 2);
  CHECK(s.cols == 3);
  CHECK(s.images.size() == 36);
  CHECK(s.labels == Bytes{0, 1, 2, 3, 4, 5});

  auto few = load_mnist(t.path, "train", 4);
  CHECK(few.count == 4);
  CHECK(few.images == Bytes(s.images.begin(), s.images.begin() + 24));
  CHECK(few.labels == Bytes{0, 1, 2, 3});
  CHECK(load_mnist(t.path, "train", 100).count == 6);

  // .gz wins over a raw file beside it; a raw file alone is read too.
  write_split(t.path, "train", Bytes{1, 2, 3}, Bytes{1, 2, 3}, false);
  CHECK(load_mnist(t.path, "train").count == 6);
  write_split(t.path, "t10k", idx_bytes({2, 4, 4}), idx_bytes({2}), false);
  CHECK(load_mnist(t.path, "test").count == 2);

  CHECK_DATA_ERROR(load_mnist(t.path, "valid"), t.path, "unknown MNIST split");
  CHECK_DATA_ERROR(load_mnist(t / "none", "train"), t / "none" / "train-images-idx3-ubyte.gz", "missing");
  fs::remove(t / "t10k-labels-idx1-ubyte");
  CHECK_DATA_ERROR(load_mnist(t.path, "test"), t / "t10k-labels-idx1-ubyte.gz", "missing");
}

TEST_CASE("load_mnist checks that images and labels agree") {
  TempDir t;
  const fs::path labels = t / "train-labels-idx1-ubyte.gz", images = t / "train-images-idx3-ubyte.gz";
  write_split(t.path, "train", idx_bytes({5, 2, 2}), idx_bytes({4}), true);
  CHECK_DATA_ERROR(load_mnist(t.path, "train"), labels, "count mismatch");

  Bytes bad = idx_bytes({5});
  bad[8 + 3] = 10;
  write_split(t.path, "train", idx_bytes({5, 2, 2}), bad, true);
  CHECK_DATA_ERROR(load_mnist(t.path, "train"), labels, "bad label 10 at index 3 (outside 0-9)");

  write_split(t.path, "train", idx_bytes({5, 4}), idx_bytes({5}), true);
  CHECK_DATA_ERROR(load_mnist(t.path, "train"), images, "bad rank 2");
  write_split(t.path, "train", idx_bytes({5, 2, 2}), idx_bytes({5, 1}), true);
  CHECK_DATA_ERROR(load_mnist(t.path, "train"), labels, "bad rank 2");
}

#ifdef GG_MNIST_DIR
TEST_CASE("load_mnist reads the MNIST mirror") {
  const fs::path dir = GG_MNIST_DIR;
  auto train = load_mnist(dir, "train");
  CHECK(train.count == 60000);
  CHECK(train.rows == 28);
  CHECK(train.cols == 28);
  CHECK(train.images.size() == size_t{60000} * 28 * 28);
  CHECK(train.labels.size() == 60000);
  CHECK(train.labels[0] == 5);

  auto test = load_mnist(dir, "test");
  CHECK(test.count == 10000);
  CHECK(test.labels[0] == 7);
  CHECK(*std::max_element(test.images.begin(), test.images.end()) == 255);

  auto few = load_mnist(dir, "test", 100);
  CHECK(few.count == 100);
  CHECK(few.images == Bytes(test.images.begin(), test.images.begin() + 100 * 28 * 28));
  CHECK(few.labels == Bytes(test.labels.begin(), test.labels.begin() + 100));
}
#endif

// Debian's dataset-fashion-mnist uses the same names and format; it is optional.
TEST_CASE("load_mnist reads Fashion-MNIST when installed") {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir)) {
    MESSAGE("dataset-fashion-mnist not installed, nothing to check");
    return;
  }
  auto train = load_mnist(dir, "train");
  CHECK(train.count == 60000);
  CHECK(train.rows == 28);
  CHECK(train.labels[0] == 9);  // ankle boot
  CHECK(load_mnist(dir, "test").count == 10000);
}
