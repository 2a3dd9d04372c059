// One entry point that turns a configured tokenizer path into a Tokenizer.
//
// `path_or_name` may be:
//   "byte"                          the ByteTokenizer with its default specials;
//   a file                          a Hugging Face tokenizer.json (any file name);
//   a folder with tokenizer.json    that file (and tokenizer_config.json beside it);
//   a folder with encoder.json and vocab.bpe   GPT-2's original files.
// Anything else is NotFound, listing what was looked for.
//
// Thread safety: a pure function; the returned tokenizer is thread-safe.
#ifndef PLUMB_COMMON_TOKENIZER_LOAD_TOKENIZER_H_
#define PLUMB_COMMON_TOKENIZER_LOAD_TOKENIZER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tokenizer/tokenizer.h"

namespace plumb::tokenizer {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(absl::string_view path_or_name);

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_LOAD_TOKENIZER_H_
