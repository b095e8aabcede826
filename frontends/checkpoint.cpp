#include "checkpoint.h"

#include "atomic_file.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace gg::ckpt {
namespace {
constexpr char kMagic[8] = {'G', 'G', 'C', 'K', 'P', 'T', '\r', '\n'};
constexpr size_t kHeader = 24;
constexpr uint32_t kMaxRank = 8;

template <class T>
void put(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
}
void put_f32(std::string& out, float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  put(out, u);
}

// Bounds-checked little-endian reader over the payload.
class Reader {
 public:
  Reader(const std::string& path, const char* p, size_t n) : path_(path), p_(p), n_(n) {}
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t(static_cast<unsigned char>(p_[at_ + i])) << (8 * i);
    at_ += sizeof(T);
    return static_cast<T>(v);
  }
  std::string bytes(size_t n, const char* what) {
    need(n, what);
    std::string s(p_ + at_, n);
    at_ += n;
    return s;
  }
  void floats(float* out, size_t n, const char* what) {
    if (n > (n_ - at_) / 4) fail(std::string("payload ends inside ") + what);
    std::memcpy(out, p_ + at_, n * 4);  // the format is little-endian, as is every host we build for
    at_ += n * 4;
  }
  bool done() const { return at_ == n_; }
  [[noreturn]] void fail(const std::string& what) const { throw CheckpointError(path_ + ": corrupt checkpoint: " + what); }

 private:
  void need(size_t k, const char* what) {
    if (k > n_ - at_) fail(std::string("payload ends inside ") + what);
  }
  std::string path_;
  const char* p_;
  size_t n_;
  size_t at_ = 0;
};

std::string errno_text() { return std::strerror(errno); }
}  // namespace

const Tensor* Checkpoint::find(const std::string& name) const {
  for (const Tensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string serialize(const Checkpoint& ckpt, const std::string& name) {
  std::string payload;
  put<uint64_t>(payload, ckpt.step);
  put<uint32_t>(payload, static_cast<uint32_t>(ckpt.architecture.size()));
  payload += ckpt.architecture;
  if (ckpt.version < 1 || ckpt.version > kFormatVersion)
    throw CheckpointError(name + ": cannot write format version " + std::to_string(ckpt.version));
  if (ckpt.version >= 2) {
    put<uint32_t>(payload, static_cast<uint32_t>(ckpt.json.size()));
    payload += ckpt.json;
  } else if (!ckpt.json.empty()) {
    throw CheckpointError(name + ": format version 1 has no place for the JSON document");
  }
  put<uint32_t>(payload, static_cast<uint32_t>(ckpt.tensors.size()));
  for (const Tensor& t : ckpt.tensors) {
    if (static_cast<int64_t>(t.values.size()) != t.shape.numel())
      throw CheckpointError(name + ": tensor \"" + t.name + "\" has " + std::to_string(t.values.size()) +
                            " values for shape " + t.shape.str());
    put<uint32_t>(payload, static_cast<uint32_t>(t.name.size()));
    payload += t.name;
    put<uint32_t>(payload, static_cast<uint32_t>(t.shape.rank()));
    for (int64_t d : t.shape.dims()) put<int64_t>(payload, d);
    payload.reserve(payload.size() + t.values.size() * 4);
    for (float f : t.values) put_f32(payload, f);
  }
  std::string file(kMagic, sizeof kMagic);
  put<uint32_t>(file, ckpt.version);
  put<uint32_t>(file, static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size()))));
  put<uint64_t>(file, payload.size());
  file += payload;
  return file;
}

void save(const std::filesystem::path& path, const Checkpoint& ckpt) {
  const std::string file = serialize(ckpt, path.string());
  try {
    io::write_file_atomically(path, file);
  } catch (const io::IoError& e) {
    throw CheckpointError(e.what());
  }
}

Checkpoint load(const std::filesystem::path& path) {
  const std::string p = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(p + ": cannot open checkpoint: " + errno_text());
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw CheckpointError(p + ": cannot read checkpoint size: " + ec.message());
  // Checked before reading so that a huge non-checkpoint file costs nothing.
  if (size == 0) throw CheckpointError(p + ": empty file, not a checkpoint");
  if (size < kHeader) throw CheckpointError(p + ": truncated: " + std::to_string(size) + " bytes is shorter than the header");
  char magic[sizeof kMagic];
  in.read(magic, sizeof magic);
  if (!in || std::memcmp(magic, kMagic, sizeof kMagic) != 0)
    throw CheckpointError(p + ": not a graphgrad checkpoint (bad magic)");
  std::string bytes(size, '\0');
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (!in) throw CheckpointError(p + ": read failed");
  return parse(bytes, p);
}

Checkpoint parse(std::string_view file, const std::string& p) {
  const size_t size = file.size();
  if (size == 0) throw CheckpointError(p + ": empty file, not a checkpoint");
  if (size < kHeader) throw CheckpointError(p + ": truncated: " + std::to_string(size) + " bytes is shorter than the header");
  if (std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) throw CheckpointError(p + ": not a graphgrad checkpoint (bad magic)");
  Reader h(p, file.data() + 8, kHeader - 8);
  const auto version = h.get<uint32_t>("version");
  const auto crc = h.get<uint32_t>("crc");
  const auto length = h.get<uint64_t>("length");
  if (version > kFormatVersion)
    throw CheckpointError(p + ": format version " + std::to_string(version) + " is newer than this build reads (" +
                          std::to_string(kFormatVersion) + ")");
  if (version == 0) throw CheckpointError(p + ": corrupt checkpoint: format version 0");
  if (length != size - kHeader)
    throw CheckpointError(p + ": truncated or padded: header declares a " + std::to_string(length) +
                          "-byte payload, the file holds " + std::to_string(size - kHeader));
  const std::string_view payload = file.substr(kHeader);
  if (crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())) != crc)
    throw CheckpointError(p + ": checksum mismatch: the file is corrupt");

  Reader r(p, payload.data(), payload.size());
  Checkpoint c;
  c.step = r.get<uint64_t>("step");
  c.version = version;
  c.architecture = r.bytes(r.get<uint32_t>("architecture length"), "architecture");
  if (version >= 2) c.json = r.bytes(r.get<uint32_t>("json length"), "json");
  const auto count = r.get<uint32_t>("tensor count");
  for (uint32_t i = 0; i < count; ++i) {
    Tensor t;
    t.name = r.bytes(r.get<uint32_t>("name length"), "tensor name");
    const auto rank = r.get<uint32_t>("rank");
    if (rank > kMaxRank) r.fail("tensor \"" + t.name + "\" has rank " + std::to_string(rank));
    std::vector<int64_t> dims;
    int64_t numel = 1;
    for (uint32_t k = 0; k < rank; ++k) {
      const auto d = r.get<int64_t>("dims");
      if (d <= 0 || d > (int64_t(1) << 32) || numel > (int64_t(1) << 40) / d)
        r.fail("tensor \"" + t.name + "\" has an impossible dimension " + std::to_string(d));
      dims.push_back(d);
      numel *= d;
    }
    t.shape = Shape(std::move(dims));
    if (static_cast<uint64_t>(numel) > payload.size() / 4) r.fail("tensor \"" + t.name + "\" is larger than the file");
    t.values.resize(static_cast<size_t>(numel));
    r.floats(t.values.data(), t.values.size(), "tensor values");
    c.tensors.push_back(std::move(t));
  }
  if (!r.done()) r.fail("trailing bytes after the last tensor");
  return c;
}

}  // namespace gg::ckpt
