// Checkpoints: named f32 tensors plus the training step and a JSON document
// (the architecture, compile options and training state), in one binary file.
//
// Format, version 2 (all integers little-endian):
//   offset 0   8 bytes  magic "GGCKPT\r\n" (the CR LF catches text-mode mangling)
//   offset 8   u32      format version (2; files of version 1 still load)
//   offset 12  u32      CRC-32 (zlib) of the payload
//   offset 16  u64      payload length in bytes (the rest of the file)
//   payload:   u64 step, u32 arch_len, arch_len bytes of architecture text,
//              u32 json_len, json_len bytes of JSON (version 2 only),
//              u32 tensor count, then per tensor: u32 name_len, name bytes,
//              u32 rank, rank x i64 dims, numel x f32 values.
// Version 1 (no JSON) still loads.
// save() writes "<path>.tmp", flushes and fsyncs it, then renames it over
// <path>, so a reader sees the old file or the new one, never half of one; a
// failed save (a full disk, a read-only folder) leaves <path> as it was and
// throws CheckpointError naming <path> and the cause (atomic_file.h).
#pragma once
#include <graphgrad/graph/error.h>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <graphgrad/graph/shape.h>

namespace gg::ckpt {

inline constexpr uint32_t kFormatVersion = 2;

// Every checkpoint error names the file.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

struct Tensor {
  std::string name;
  Shape shape;
  std::vector<float> values;
};

struct Checkpoint {
  uint64_t step = 0;
  std::string architecture;  // the model's one-line summary, to name a mismatch
  std::string json;          // version 2: {"model": ..., "compile": ..., "training": ...}; empty in version 1
  uint32_t version = kFormatVersion;  // as read; what serialize() writes (1 or 2)
  std::vector<Tensor> tensors;
  const Tensor* find(const std::string& name) const;
};

void save(const std::filesystem::path& path, const Checkpoint& ckpt);
// The bytes save() writes; errors (a tensor whose values do not fill its shape) name `name`.
std::string serialize(const Checkpoint& ckpt, const std::string& name);
Checkpoint load(const std::filesystem::path& path);
// Parses a whole checkpoint file held in memory; errors name `name` as load()'s
// name the path. load() reads the file and calls this (so does the fuzzer).
Checkpoint parse(std::string_view file, const std::string& name);

}  // namespace gg::ckpt
