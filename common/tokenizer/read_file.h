// Reading a whole (bounded) file into memory, with an error that names the path.
//
// Thread safety: a pure function.
#ifndef PLUMB_COMMON_TOKENIZER_READ_FILE_H_
#define PLUMB_COMMON_TOKENIZER_READ_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace plumb::tokenizer {

// Tokenizer files are at most this large (Llama 3's tokenizer.json is 9 MB, Gemma's 34 MB): a
// parsed JSON document takes several times its text's size in memory.
inline constexpr size_t kMaxTokenizerFileBytes = size_t{64} << 20;

// NotFound when the file does not exist, InvalidArgument when it holds more than `max_bytes`,
// otherwise Unavailable with the system's reason.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             size_t max_bytes = kMaxTokenizerFileBytes);

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_READ_FILE_H_
