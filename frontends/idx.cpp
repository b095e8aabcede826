#include "idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace gg::data {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxPayload = uint64_t{1} << 30;  // 1 GiB: far above any real IDX file
constexpr size_t kChunk = size_t{1} << 20;            // payload is read in 1 MiB steps

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw DataError(path.string() + ": " + what);
}

std::string hex_byte(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

std::string dims_text(const std::vector<uint32_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// A byte stream over the file's IDX content. read() fills `n` bytes unless the
// content ends first; it throws DataError on I/O or decompression errors.
class Source {
 public:
  virtual ~Source() = default;
  virtual size_t read(uint8_t* out, size_t n) = 0;
};

class RawSource final : public Source {
 public:
  RawSource(std::FILE* f, const fs::path& path) : f_(f), path_(path) {}
  size_t read(uint8_t* out, size_t n) override {
    size_t got = std::fread(out, 1, n, f_);
    if (got < n && std::ferror(f_)) fail(path_, std::string("read error: ") + std::strerror(errno));
    return got;
  }

 private:
  std::FILE* f_;
  const fs::path& path_;
};

// gzip through zlib's inflate (not gzread: gzread silently ignores garbage after
// the last member, and we want to report it).
class GzipSource final : public Source {
 public:
  GzipSource(std::FILE* f, const fs::path& path) : f_(f), path_(path), in_(64 * 1024) {
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) fail(path_, "cannot initialise zlib");  // 16: gzip only
  }
  ~GzipSource() override { inflateEnd(&zs_); }

  size_t read(uint8_t* out, size_t n) override {
    zs_.next_out = out;
    zs_.avail_out = static_cast<uInt>(n);  // callers ask for at most kChunk
    while (zs_.avail_out > 0 && !done_) {
      // At end of file inflate may still flush output it holds; only when it
      // can make no progress (Z_BUF_ERROR) is the stream cut short.
      const bool eof = zs_.avail_in == 0 && fill(1) == 0;
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_BUF_ERROR && eof)
        fail(path_, "truncated gzip: the file ends inside the compressed stream");
      if (rc == Z_STREAM_END) {
        // RFC 1952 allows several members back to back (`cat a.gz b.gz`);
        // anything else after a member is garbage.
        if (fill(2) == 0) {
          done_ = true;
        } else if (zs_.avail_in >= 2 && zs_.next_in[0] == 0x1f && zs_.next_in[1] == 0x8b) {
          inflateReset(&zs_);
        } else {
          fail(path_, "trailing garbage after the end of the gzip stream");
        }
      } else if (rc == Z_DATA_ERROR) {
        fail(path_, corrupt_message());
      } else if (rc == Z_MEM_ERROR) {
        fail(path_, "out of memory while decompressing");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {  // Z_BUF_ERROR: needs more input
        fail(path_, "zlib error " + std::to_string(rc));
      }
    }
    return n - zs_.avail_out;
  }

 private:
  // Makes at least `want` input bytes available if the file still has them;
  // returns how many are available.
  size_t fill(size_t want) {
    if (zs_.avail_in >= want) return zs_.avail_in;
    std::memmove(in_.data(), zs_.next_in ? zs_.next_in : in_.data(), zs_.avail_in);
    size_t have = zs_.avail_in;
    while (have < want) {
      size_t got = std::fread(in_.data() + have, 1, in_.size() - have, f_);
      if (got == 0) {
        if (std::ferror(f_)) fail(path_, std::string("read error: ") + std::strerror(errno));
        break;
      }
      have += got;
    }
    zs_.next_in = in_.data();
    zs_.avail_in = static_cast<uInt>(have);
    return have;
  }

  std::string corrupt_message() const {
    std::string msg = zs_.msg ? zs_.msg : "invalid data";
    if (msg == "incorrect data check") return "corrupt gzip: CRC-32 mismatch (incorrect data check)";
    if (msg == "incorrect length check") return "corrupt gzip: length mismatch in the gzip trailer";
    return "corrupt gzip: " + msg;
  }

  std::FILE* f_;
  const fs::path& path_;
  std::vector<uint8_t> in_;
  z_stream zs_{};
  bool done_ = false;
};

// Parses the IDX stream. `raw_size` is the file size for raw files, so that the
// declared size can be checked before anything is allocated; for gzip it is
// unknown and the payload is read into a buffer grown chunk by chunk, so a
// lying header costs no memory the stream does not fill.
IdxArray parse(Source& src, const fs::path& path, bool gzip, uint64_t raw_size) {
  const char* holder = gzip ? "the decompressed data holds" : "the file holds";
  uint8_t head[4];
  size_t got = src.read(head, 4);
  if (got == 0) fail(path, gzip ? "empty: the gzip stream decompresses to nothing" : "empty file");
  if (got < 4)
    fail(path, "truncated header: " + std::string(holder) + " " + std::to_string(got) +
                   " bytes, an IDX header needs at least 4");
  if (head[0] != 0 || head[1] != 0)
    fail(path, "bad magic: expected 00 00 08 <rank>, found " + hex_byte(head[0]) + " " +
                   hex_byte(head[1]) + " " + hex_byte(head[2]) + " " + hex_byte(head[3]));
  if (head[2] != 0x08)
    fail(path, "bad magic: element type " + hex_byte(head[2]) +
                   " is not supported (only 0x08, unsigned byte)");
  const unsigned rank = head[3];
  if (rank == 0 || rank > 4) fail(path, "bad rank " + std::to_string(rank) + " (must be 1 to 4)");

  const uint64_t header_bytes = 4 + 4 * uint64_t{rank};
  uint8_t raw_dims[16];
  got = src.read(raw_dims, 4 * rank);
  if (got < 4 * rank)
    fail(path, "truncated header: rank " + std::to_string(rank) + " needs " +
                   std::to_string(header_bytes) + " header bytes but " + holder + " " +
                   std::to_string(4 + got));

  IdxArray out;
  uint64_t items = 1;
  for (unsigned i = 0; i < rank; ++i) {
    const uint8_t* p = raw_dims + 4 * i;  // big-endian
    out.dims.push_back(uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]);
  }
  for (uint32_t d : out.dims)
    if (d == 0) fail(path, "zero dimension in " + dims_text(out.dims));
  for (uint32_t d : out.dims) {
    if (items > kMaxPayload / d)  // checked before multiplying: 4 x 32 bits overflows 64
      fail(path, "absurd dimensions " + dims_text(out.dims) + ": more than the 1 GiB limit");
    items *= d;
  }

  const uint64_t expected = header_bytes + items;
  const std::string declared = "header declares " + std::to_string(items) + " items (" +
                               std::to_string(expected) + " bytes) but " + holder + " ";
  if (!gzip) {
    if (raw_size < expected) fail(path, "truncated: " + declared + std::to_string(raw_size));
    if (raw_size > expected) fail(path, "trailing bytes: " + declared + std::to_string(raw_size));
  }

  // Reserve at most 16 MiB up front: a gzip header may lie, and the buffer
  // grows as real bytes arrive (a raw file's size was checked above).
  out.bytes.reserve(static_cast<size_t>(gzip ? std::min<uint64_t>(items, uint64_t{1} << 24) : items));
  while (out.bytes.size() < items) {
    size_t old = out.bytes.size();
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, items - old));
    out.bytes.resize(old + want);
    got = src.read(out.bytes.data() + old, want);
    if (got < want)  // for raw files only if the file shrank since it was measured
      fail(path, "truncated: " + declared + std::to_string(header_bytes + old + got));
  }

  if (gzip) {
    // Decompress what follows (this also checks the CRC in the trailer); count
    // extra bytes up to a cap so a gzip bomb cannot keep us busy forever.
    uint64_t extra = 0;
    std::vector<uint8_t> scratch(64 * 1024);
    while ((got = src.read(scratch.data(), scratch.size())) > 0 && extra <= kMaxPayload) extra += got;
    if (extra > 0)
      fail(path, "trailing bytes: " + declared + (extra > kMaxPayload ? "more than " : "") +
                     std::to_string(expected + extra));
  }
  return out;
}

// Reads an opened file of `size` (> 0) bytes: gzip or raw by its first bytes.
IdxArray parse_file(std::FILE* f, const fs::path& path, uint64_t size) {
  // A raw IDX file starts with 00 00, so the gzip magic 1f 8b cannot be ambiguous.
  int b0 = std::fgetc(f), b1 = std::fgetc(f);
  std::rewind(f);
  if (b0 == 0x1f && b1 == 0x8b) {
    GzipSource src(f, path);
    return parse(src, path, true, 0);
  }
  RawSource src(f, path);
  return parse(src, path, false, size);
}

}  // namespace

IdxArray read_idx(const fs::path& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) fail(path, "missing file (no such file)");
  if (st.type() == fs::file_type::none) fail(path, "cannot stat: " + ec.message());
  if (!fs::is_regular_file(st)) fail(path, "not a regular file");
  uint64_t size = fs::file_size(path, ec);
  if (ec) fail(path, "cannot stat: " + ec.message());
  if (size == 0) fail(path, "empty file");

  errno = 0;
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(path, std::string("cannot open: ") + std::strerror(errno));
  return parse_file(f.get(), path, size);
}

IdxArray read_idx_bytes(std::span<const uint8_t> bytes, const fs::path& name) {
  if (bytes.empty()) fail(name, "empty file");
  // fmemopen gives the same FILE* stream a file would, so this is the very
  // code path read_idx() takes, without touching the disk.
  File f(fmemopen(const_cast<uint8_t*>(bytes.data()), bytes.size(), "rb"));
  if (!f) fail(name, std::string("cannot open a memory stream: ") + std::strerror(errno));
  return parse_file(f.get(), name, bytes.size());
}

MnistSplit load_mnist(const fs::path& dir, std::string_view split, size_t limit) {
  std::string prefix;
  if (split == "train") prefix = "train";
  else if (split == "test") prefix = "t10k";
  else fail(dir, "unknown MNIST split \"" + std::string(split) + "\" (expected train or test)");

  auto locate = [&](const std::string& stem) {
    fs::path gz = dir / (stem + ".gz"), raw = dir / stem;
    std::error_code ec;  // an unreadable folder then shows as a missing file
    if (fs::exists(gz, ec)) return gz;
    if (fs::exists(raw, ec)) return raw;
    fail(gz, "missing file (neither it nor " + stem + " exists)");
  };
  const fs::path image_path = locate(prefix + "-images-idx3-ubyte");
  const fs::path label_path = locate(prefix + "-labels-idx1-ubyte");

  IdxArray images = read_idx(image_path);
  if (images.dims.size() != 3)
    fail(image_path, "bad rank " + std::to_string(images.dims.size()) +
                         " for images (expected 3: count x rows x cols)");
  IdxArray labels = read_idx(label_path);
  if (labels.dims.size() != 1)
    fail(label_path, "bad rank " + std::to_string(labels.dims.size()) + " for labels (expected 1)");
  if (labels.dims[0] != images.dims[0])
    fail(label_path, "count mismatch: " + std::to_string(labels.dims[0]) + " labels but " +
                         image_path.string() + " holds " + std::to_string(images.dims[0]) +
                         " images");
  for (size_t i = 0; i < labels.bytes.size(); ++i)
    if (labels.bytes[i] > 9)
      fail(label_path, "bad label " + std::to_string(labels.bytes[i]) + " at index " +
                           std::to_string(i) + " (outside 0-9)");

  MnistSplit s;
  s.count = images.dims[0];
  s.rows = images.dims[1];
  s.cols = images.dims[2];
  s.images = std::move(images.bytes);
  s.labels = std::move(labels.bytes);
  s.images_file = image_path;
  s.labels_file = label_path;
  if (limit > 0 && limit < s.count) {
    s.count = limit;
    s.images.resize(limit * s.rows * s.cols);
    s.images.shrink_to_fit();
    s.labels.resize(limit);
    s.labels.shrink_to_fit();
  }
  return s;
}

}  // namespace gg::data
