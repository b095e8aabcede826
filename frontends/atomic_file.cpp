// write_file_atomically(): .tmp, fsync, rename, fsync of the folder; and
// GRAPHGRAD_IO_FAULT's injected failures (see atomic_file.h).
#include "atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace gg::io {
namespace {

struct Fault {
  int error = 0;  // the errno to fail with; 0: no fault
  long at = 0;    // which file, counted from 1
};

struct Known {
  const char* name;
  int error;
};
constexpr Known kKnown[] = {{"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EIO", EIO}, {"EROFS", EROFS}, {"EACCES", EACCES}};

Fault parse_fault(const char* v) {
  Fault f;
  if (!v || !*v) return f;
  const std::string s = v;
  const size_t atpos = s.find('@');
  const std::string kind = s.substr(0, atpos);
  for (const Known& k : kKnown)
    if (kind == k.name) f.error = k.error;
  char* end = nullptr;
  if (atpos != std::string::npos) f.at = std::strtol(s.c_str() + atpos + 1, &end, 10);
  if (!f.error || f.at < 1 || !end || *end)
    throw IoError("GRAPHGRAD_IO_FAULT=\"" + s + "\" is not <ENOSPC|EDQUOT|EIO|EROFS|EACCES>@<file number >= 1>");
  return f;
}

// The fault for the file about to be written (0: none). Parsed on the first
// write, so a bad value fails there, naming the variable.
int injected_fault() {
  static const Fault fault = parse_fault(std::getenv("GRAPHGRAD_IO_FAULT"));
  static std::atomic<long> files{0};
  const long n = ++files;
  return fault.error && n == fault.at ? fault.error : 0;
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const int fault = injected_fault();
  const bool fault_at_create = fault == EROFS || fault == EACCES, fault_at_write = fault && !fault_at_create;
  const std::string p = path.string(), tmp = p + ".tmp";
  std::error_code ec;
  const std::string outcome =
      std::filesystem::exists(path, ec) ? "; the previous " + path.filename().string() + " is unchanged" : "; nothing was written";
  const std::string injected = fault ? " (injected by GRAPHGRAD_IO_FAULT)" : "";
  // Every failure after the .tmp exists ends here: the .tmp goes, <path> was never touched.
  // (Callers pass errno by value, read before anything else can change it.)
  auto fail = [&](const std::string& step, int error, int fd) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw IoError(p + ": " + step + ": " + std::strerror(error) + injected + outcome);
  };

  const int fd = fault_at_create ? (errno = fault, -1) : ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  // Not fail(): a .tmp we could not create is not ours to remove.
  if (fd < 0) {
    const int error = errno;
    throw IoError(p + ": cannot create " + tmp + ": " + std::strerror(error) + injected + outcome);
  }
  // An injected full disk takes half the bytes first, as a real one would.
  const size_t limit = fault_at_write ? bytes.size() / 2 : bytes.size();
  size_t written = 0;
  while (written < limit) {
    const ssize_t w = ::write(fd, bytes.data() + written, limit - written);
    const int error = errno;
    if (w < 0 && error == EINTR) continue;
    if (w < 0) fail("cannot write " + tmp, error, fd);
    if (w == 0) fail("cannot write " + tmp, ENOSPC, fd);  // no progress on a non-empty buffer: no room
    written += static_cast<size_t>(w);
  }
  if (fault_at_write) fail("cannot write " + tmp, fault, fd);
  // A full disk or a failing device may only show at fsync or close (NFS, delayed allocation).
  if (::fsync(fd) != 0) {
    const int error = errno;
    fail("cannot flush " + tmp + " to disk", error, fd);
  }
  if (::close(fd) != 0) {
    const int error = errno;
    fail("cannot close " + tmp, error, -1);
  }
  if (std::rename(tmp.c_str(), p.c_str()) != 0) {
    const int error = errno;
    fail("cannot rename " + tmp + " into place", error, -1);
  }
  // Make the rename itself durable: fsync the folder that holds the entry.
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: some filesystems refuse fsync on a folder
    ::close(dfd);
  }
}

}  // namespace gg::io
