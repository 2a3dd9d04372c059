// Reading GPT-2's original vocabulary files: encoder.json ({"token": id, ...}, tokens in the
// byte-level alphabet) and vocab.bpe (a "#version" line, then one "left right" merge per line in
// rank order). The pre-tokenizer is GPT-2's regex with no prefix space; "<|endoftext|>", when in
// the vocabulary, is a special token and plays bos and eos.
//
// Thread safety: pure functions.
#ifndef PLUMB_COMMON_TOKENIZER_GPT2_VOCAB_FILES_H_
#define PLUMB_COMMON_TOKENIZER_GPT2_VOCAB_FILES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tokenizer/bpe_tokenizer.h"

namespace plumb::tokenizer {

// Errors name the file and the line or key ("vocab.bpe:7: expected two tokens ...").
absl::StatusOr<BpeTokenizerSpec> ParseGpt2VocabFiles(absl::string_view encoder_json,
                                                     absl::string_view encoder_source,
                                                     absl::string_view vocab_bpe,
                                                     absl::string_view vocab_source);

// Loads `directory`/encoder.json and `directory`/vocab.bpe.
absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadGpt2VocabFiles(const std::string& directory);

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_GPT2_VOCAB_FILES_H_
