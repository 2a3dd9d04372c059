// Reading a whole file into memory, with an error that names the path.
//
// Thread safety: a pure function.
#ifndef PLUMB_COMMON_TOKENIZER_READ_FILE_H_
#define PLUMB_COMMON_TOKENIZER_READ_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace plumb::tokenizer {

// NotFound when the file does not exist, otherwise Unavailable with the system's reason.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_READ_FILE_H_
