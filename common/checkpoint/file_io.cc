#include "common/checkpoint/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace plumb::checkpoint {
namespace {

absl::Status ErrnoError(int error, absl::string_view what, const std::filesystem::path& path) {
  return absl::ErrnoToStatus(error, absl::StrCat(what, " ", path.string()));
}

absl::Status WriteAll(int fd, const void* data, size_t size, const std::filesystem::path& path) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "cannot write", path);
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
  return absl::OkStatus();
}

// Best effort: makes the rename durable. Some file systems refuse fsync on directories.
void SyncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) ::close(fd_);
}

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

absl::StatusOr<OpenedFile> OpenRegularFile(const std::filesystem::path& path) {
  OpenedFile file{.fd = ScopedFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC))};
  if (file.fd.get() < 0) return ErrnoError(errno, "cannot open", path);
  struct stat info;
  if (::fstat(file.fd.get(), &info) != 0) return ErrnoError(errno, "cannot stat", path);
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is not a regular file"));
  }
  file.size = static_cast<uint64_t>(info.st_size);
  return file;
}

absl::StatusOr<size_t> ReadAt(int fd, void* buffer, size_t size, uint64_t offset,
                              const std::filesystem::path& path) {
  char* bytes = static_cast<char*>(buffer);
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::pread(fd, bytes + done, size - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "cannot read", path);
    }
    if (got == 0) break;  // end of file
    done += static_cast<size_t>(got);
  }
  return done;
}

absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path,
                                             uint64_t max_bytes) {
  ASSIGN_OR_RETURN(OpenedFile file, OpenRegularFile(path));
  if (file.size > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is ", file.size,
                                                   " bytes, more than the limit of ", max_bytes));
  }
  std::string contents(static_cast<size_t>(file.size), '\0');
  ASSIGN_OR_RETURN(const size_t read,
                   ReadAt(file.fd.get(), contents.data(), contents.size(), 0, path));
  contents.resize(read);  // the file shrank while being read
  return contents;
}

absl::Status WriteFileAtomically(
    const std::filesystem::path& path,
    const std::function<absl::Status(const AppendBytes&)>& write_contents) {
  // mkstemp in the target directory: rename(2) is atomic only within one file system.
  std::string temp_name = absl::StrCat(path.string(), ".tmp.XXXXXX");
  const int fd = ::mkstemp(temp_name.data());
  if (fd < 0) return ErrnoError(errno, "cannot create a temporary file for", path);
  const std::filesystem::path temp_path(temp_name);

  absl::Status status = write_contents(
      [&](const void* data, size_t size) { return WriteAll(fd, data, size, temp_path); });
  if (status.ok() && ::fchmod(fd, 0644) != 0) status = ErrnoError(errno, "cannot chmod", temp_path);
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError(errno, "cannot fsync", temp_path);
  if (::close(fd) != 0 && status.ok()) status = ErrnoError(errno, "cannot close", temp_path);
  if (status.ok() && ::rename(temp_name.c_str(), path.c_str()) != 0) {
    status = ErrnoError(errno, absl::StrCat("cannot rename ", temp_name, " to"), path);
  }
  if (!status.ok()) {
    ::unlink(temp_name.c_str());
    return status;
  }
  SyncDirectory(path.parent_path());
  return absl::OkStatus();
}

absl::Status WriteStringToFileAtomically(const std::filesystem::path& path,
                                         absl::string_view contents) {
  return WriteFileAtomically(
      path, [&](const AppendBytes& append) { return append(contents.data(), contents.size()); });
}

}  // namespace plumb::checkpoint
