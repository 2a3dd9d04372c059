// Which tokens play bos / eos / pad, by spelling.
//
// Hugging Face keeps these roles outside tokenizer.json (in tokenizer_config.json), and GPT-2's
// files do not name them at all; GuessSpecialTokenNames fills them from well-known spellings
// when nothing says otherwise.
//
// Thread safety: plain data and a pure function.
#ifndef PLUMB_COMMON_TOKENIZER_SPECIAL_TOKEN_NAMES_H_
#define PLUMB_COMMON_TOKENIZER_SPECIAL_TOKEN_NAMES_H_

#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace plumb::tokenizer {

struct SpecialTokenNames {
  std::optional<std::string> bos;
  std::optional<std::string> eos;
  std::optional<std::string> pad;
};

// The first present spelling of each role, in this order:
//   bos: <|begin_of_text|> <s> <bos> <|startoftext|> <|endoftext|>
//   eos: <|end_of_text|> </s> <eos> <|endoftext|>
//   pad: <pad> <|pad|> [PAD]
// So GPT-2 gets bos = eos = "<|endoftext|>" (its own convention) and Llama 3 gets
// "<|begin_of_text|>" / "<|end_of_text|>".
SpecialTokenNames GuessSpecialTokenNames(absl::FunctionRef<bool(absl::string_view)> has_token);

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_SPECIAL_TOKEN_NAMES_H_
