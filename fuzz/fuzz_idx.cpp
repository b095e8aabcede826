// libFuzzer target for the IDX loader (frontends/idx.cpp).
//
// Each input is parsed twice: as a file's bytes (raw IDX, or gzip when it
// starts with 1f 8b), and gzip-compressed by this harness, so that mutations
// reach the IDX parser behind the gzip reader too (random bytes almost never
// pass a gzip CRC). Any exception but DataError, a crash, a sanitizer report or
// a broken invariant below is a finding.
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <graphgrad/frontends/idx.h>

namespace {

using gg::data::DataError;
using gg::data::IdxArray;

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_idx: invariant broken: %s\n", what.c_str());
  std::abort();
}

// The parse result, or nullopt on a DataError whose message names the file.
std::optional<IdxArray> parse(const std::vector<uint8_t>& bytes, const char* name) {
  try {
    IdxArray a = gg::data::read_idx_bytes(bytes, name);
    uint64_t items = 1;
    for (uint32_t d : a.dims) items *= d;
    if (a.dims.empty() || a.dims.size() > 4 || items != a.bytes.size())
      finding("accepted an array whose dims do not match its payload");
    return a;
  } catch (const DataError& e) {
    if (std::string(e.what()).rfind(std::string(name) + ": ", 0) != 0)
      finding(std::string("error does not name the file: ") + e.what());
    return std::nullopt;
  }
}

std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
  z_stream zs{};
  // A small window and memory level: cheap per input, and the inputs are small.
  if (deflateInit2(&zs, 1, Z_DEFLATED, 9 + 16, 1, Z_DEFAULT_STRATEGY) != Z_OK) finding("deflateInit2");
  std::vector<uint8_t> out(deflateBound(&zs, size) + 32);
  zs.next_in = const_cast<uint8_t*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) finding("deflate");
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> raw(data, data + size);
  const std::optional<IdxArray> as_file = parse(raw, "fuzz.idx");

  if (size > (1u << 20)) return 0;
  const std::optional<IdxArray> behind_gzip = parse(gzip(data, size), "fuzz.idx.gz");
  // Bytes that are not themselves gzip mean the same IDX array raw or compressed.
  const bool raw_is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (!raw_is_gzip) {
    if (as_file.has_value() != behind_gzip.has_value()) finding("raw and gzip parses disagree on validity");
    if (as_file && (as_file->dims != behind_gzip->dims || as_file->bytes != behind_gzip->bytes))
      finding("raw and gzip parses disagree on the content");
  }
  return 0;
}
