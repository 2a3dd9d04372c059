// Reading a Hugging Face tokenizer.json that describes a byte-level BPE (GPT-2, Llama 3, Qwen2).
//
// Supported, by field:
//   model           type "BPE" (or no type but merges); vocab; merges as "a b" strings or
//                   ["a", "b"] lists; ignore_merges. dropout must be null/0,
//                   continuing_subword_prefix and end_of_word_suffix null/"", byte_fallback false.
//   added_tokens    id, content, special; single_word/lstrip/rstrip must be false.
//                   Matched on the raw text (before normalization).
//   normalizer      null, NFC, NFD, NFKC, NFKD, or a Sequence of one of them.
//   pre_tokenizer   ByteLevel (add_prefix_space, use_regex; both default true as in Hugging
//                   Face), Split (Regex or String pattern, behavior, invert), Digits, in a
//                   Sequence whose last step is ByteLevel.
//   decoder         ByteLevel (or a Sequence of ByteLevel).
//   truncation, padding must be null. post_processor is not applied: Encode returns the text's
//   ids only, and PromptFormatter (prompt_template.h) adds bos/eos.
// Anything else is an InvalidArgument error that names the file and the field, e.g.
//   "m/tokenizer.json: model.type \"Unigram\" is not supported; ...", never a tokenizer that
//   silently encodes differently from Hugging Face.
//
// Thread safety: pure functions.
#ifndef PLUMB_COMMON_TOKENIZER_HF_TOKENIZER_JSON_H_
#define PLUMB_COMMON_TOKENIZER_HF_TOKENIZER_JSON_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tokenizer/bpe_tokenizer.h"
#include "common/tokenizer/special_token_names.h"

namespace plumb::tokenizer {

// Parses tokenizer.json text; `source` names it in errors and in BpeTokenizerSpec::source.
// special_names is left empty: the roles live in tokenizer_config.json.
absl::StatusOr<BpeTokenizerSpec> ParseHfTokenizerJson(absl::string_view json,
                                                      absl::string_view source);

// Parses tokenizer_config.json text for bos_token / eos_token / pad_token (a string, an object
// with "content", or null). Absent keys mean no such token.
absl::StatusOr<SpecialTokenNames> ParseHfTokenizerConfig(absl::string_view json,
                                                         absl::string_view source);

// Loads the tokenizer.json at `path`. The bos/eos/pad roles come from the tokenizer_config.json
// beside it when there is one, else from GuessSpecialTokenNames.
absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadHfTokenizerJson(const std::string& path);

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_HF_TOKENIZER_JSON_H_
