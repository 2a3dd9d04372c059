// Whole-file helpers for checkpoint files: bounded reads of small text files (config.json, the
// shard index) and atomic creation of files (temporary file beside the target, fsync, rename), so
// a reader never sees a half-written checkpoint file and a failed write leaves the old one intact.
//
// Errors come from errno (NOT_FOUND, PERMISSION_DENIED, ...) and name the path.
// Thread safety: reentrant; two writers of the same path race only on which rename lands last.
#ifndef PLUMB_COMMON_CHECKPOINT_FILE_IO_H_
#define PLUMB_COMMON_CHECKPOINT_FILE_IO_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::checkpoint {

// An open file descriptor, closed when the object dies. Move-only.
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ~ScopedFd();
  ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct OpenedFile {
  ScopedFd fd;
  uint64_t size = 0;
};

// Opens a regular file for reading; INVALID_ARGUMENT for a directory or device.
absl::StatusOr<OpenedFile> OpenRegularFile(const std::filesystem::path& path);

// Reads `size` bytes at `offset`, retrying short reads and EINTR. Returns the bytes read, fewer
// than `size` only at end of file.
absl::StatusOr<size_t> ReadAt(int fd, void* buffer, size_t size, uint64_t offset,
                              const std::filesystem::path& path);

// Reads a regular file of at most `max_bytes`; INVALID_ARGUMENT when it is larger.
absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path,
                                             uint64_t max_bytes = uint64_t{64} << 20);

// Appends bytes to the file being written; an error (e.g. ENOSPC) aborts the whole write.
using AppendBytes = std::function<absl::Status(const void* data, size_t size)>;

// Creates `path` from what `write_contents` appends: the bytes go to a temporary file in the same
// directory, which is fsync'ed and renamed over `path` (then the directory is fsync'ed). On any
// error, including one returned by `write_contents`, the temporary file is removed and an existing
// `path` is untouched.
absl::Status WriteFileAtomically(
    const std::filesystem::path& path,
    const std::function<absl::Status(const AppendBytes&)>& write_contents);

absl::Status WriteStringToFileAtomically(const std::filesystem::path& path,
                                         absl::string_view contents);

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_FILE_IO_H_
