// Whole-file writes that a crash, a full disk or a read-only folder cannot
// turn into half a file: every file graphgrad writes (checkpoints, ONNX
// models, PNG grids, graph dumps) goes through write_file_atomically().
//
// The bytes go to "<path>.tmp", which is fsynced, then renamed over <path>,
// then the folder is fsynced so the rename survives a power cut. A reader sees
// the old file or the new one, never a mix. On any failure the .tmp is removed,
// <path> is left as it was, and IoError names <path>, the step that failed and
// the system's reason (strerror), e.g.
//   run.ckpt: cannot write run.ckpt.tmp: No space left on device; the previous run.ckpt is unchanged
//
// Fault injection, for the tests (as GRAPHGRAD_VULKAN_FAULT injects device
// faults): GRAPHGRAD_IO_FAULT=<ERRNO>@<n> makes the n-th file this process
// writes (counted from 1) fail as the system would:
//   ENOSPC, EDQUOT, EIO  after half the bytes are written (a disk that fills up mid-file)
//   EROFS, EACCES        when the .tmp is created (a read-only or forbidden folder)
// A malformed value fails the first write, naming the variable.
#pragma once
#include <filesystem>
#include <string_view>

#include <graphgrad/graph/error.h>

namespace gg::io {

class IoError : public Error {
 public:
  using Error::Error;
};

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

}  // namespace gg::io
