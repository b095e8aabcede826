// libFuzzer target for the checkpoint reader (frontends/checkpoint.cpp).
//
// Each input is parsed as a whole file, then again with its header repaired
// (magic, version 1, payload length and CRC-32 made to match), so that
// mutations reach the payload parser behind the checksum. A payload that
// parses must serialize back to the very same bytes. Any exception but
// CheckpointError, a crash, a sanitizer report or a broken invariant is a finding.
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <graphgrad/frontends/checkpoint.h>

namespace {

using gg::ckpt::CheckpointError;

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_checkpoint: invariant broken: %s\n", what.c_str());
  std::abort();
}

void parse_and_round_trip(const std::string& file, const char* name) {
  gg::ckpt::Checkpoint c;
  try {
    c = gg::ckpt::parse(file, name);
  } catch (const CheckpointError& e) {
    if (std::string(e.what()).rfind(std::string(name) + ": ", 0) != 0)
      finding(std::string("error does not name the file: ") + e.what());
    return;
  }
  if (gg::ckpt::serialize(c, name) != file) finding("a parsed checkpoint does not serialize to the same bytes");
}

template <class T>
void put_le(std::string& s, size_t at, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) s[at + i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file(reinterpret_cast<const char*>(data), size);
  parse_and_round_trip(file, "fuzz.ckpt");

  // The same bytes as a payload behind a valid header (header: 24 bytes).
  constexpr size_t kHeader = 24;
  std::string fixed(kHeader, '\0');
  std::memcpy(fixed.data(), "GGCKPT\r\n", 8);
  fixed += file.size() >= kHeader && std::memcmp(data, "GGCKPT\r\n", 8) == 0 ? file.substr(kHeader) : file;
  const std::string_view payload = std::string_view(fixed).substr(kHeader);
  put_le<uint32_t>(fixed, 8, 1);
  put_le<uint32_t>(fixed, 12, static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(payload.data()),
                                                         static_cast<uInt>(payload.size()))));
  put_le<uint64_t>(fixed, 16, payload.size());
  parse_and_round_trip(fixed, "fuzz-fixed.ckpt");
  return 0;
}
