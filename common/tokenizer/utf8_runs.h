// Splitting arbitrary bytes into well-formed UTF-8 runs and stray bytes.
//
// The regex stage of pre-tokenization only ever sees well-formed UTF-8; every other byte becomes
// a piece of its own, which keeps byte-level tokenizers lossless for any input. Well-formedness
// follows the Unicode Standard, table 3-7: no overlong forms, no surrogates (U+D800..U+DFFF),
// nothing above U+10FFFF, no truncated sequences.
//
// Thread safety: pure functions.
#ifndef PLUMB_COMMON_TOKENIZER_UTF8_RUNS_H_
#define PLUMB_COMMON_TOKENIZER_UTF8_RUNS_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace plumb::tokenizer {

// Length (1..4) of the well-formed UTF-8 sequence that starts text, or 0 when none does (also
// for empty text).
int Utf8SequenceLength(absl::string_view text);

bool IsValidUtf8(absl::string_view text);

// Calls on_run(run, true) for each maximal well-formed run and on_run(byte, false) for each byte
// that starts no well-formed sequence, in order. The views cover `text` exactly, without gaps.
void ForEachUtf8Run(absl::string_view text,
                    absl::FunctionRef<void(absl::string_view run, bool valid)> on_run);

// `text` with every byte that starts no well-formed sequence replaced by U+FFFD, so that it can
// travel in a protobuf string field (decoded model output may end inside a character).
std::string ToValidUtf8(absl::string_view text);

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_UTF8_RUNS_H_
