#include "common/tokenizer/read_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace plumb::tokenizer {

absl::StatusOr<std::string> ReadFileToString(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    const std::string message = absl::StrCat("cannot read ", path, ": ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::UnavailableError(message);
  }
  // Reads in chunks up to one byte past the limit, so a device or a growing file stops too.
  std::string contents;
  char chunk[1 << 16];
  while (in && contents.size() <= max_bytes) {
    in.read(chunk, sizeof(chunk));
    contents.append(chunk, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return absl::UnavailableError(absl::StrCat("error while reading ", path));
  if (contents.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than the limit of ", max_bytes, " bytes for tokenizer files"));
  }
  return contents;
}

}  // namespace plumb::tokenizer
