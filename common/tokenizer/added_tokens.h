// Added tokens: strings that the tokenizer recognises whole, before any pre-tokenization or BPE
// ("<|endoftext|>", "<|im_start|>", chat markers).
//
// AddedTokenMatcher finds them in text leftmost-first and, at one position, longest-first (so
// "<|im_start|>" wins over a shorter "<|im" token). Special tokens are matched only when asked.
//
// Thread safety: immutable after construction; Split may run on many threads at once.
#ifndef PLUMB_COMMON_TOKENIZER_ADDED_TOKENS_H_
#define PLUMB_COMMON_TOKENIZER_ADDED_TOKENS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace plumb::tokenizer {

struct AddedToken {
  int32_t id = 0;
  std::string content;   // the exact bytes that stand for the token; never empty
  bool special = false;  // control token: matched only with EncodeOptions::allow_special
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // Tokens with empty content are ignored; of two with the same content the first wins.
  explicit AddedTokenMatcher(absl::Span<const AddedToken> tokens);

  // Cuts `text` at the added tokens in it: on_text gets each non-empty stretch between tokens and
  // on_token each token's id, in text order. Special tokens count only if `allow_special`.
  void Split(absl::string_view text, bool allow_special,
             absl::FunctionRef<void(absl::string_view)> on_text,
             absl::FunctionRef<void(int32_t)> on_token) const;

 private:
  struct Entry {
    std::string content;
    int32_t id;
    bool special;
  };
  // Indexes into entries_, longest content first, keyed by the first byte of the content.
  std::array<std::vector<uint32_t>, 256> by_first_byte_;
  // Whether some (any / non-special) token starts with the byte: a fast reject per position.
  std::array<bool, 256> starts_any_{};
  std::array<bool, 256> starts_non_special_{};
  std::vector<Entry> entries_;
};

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_ADDED_TOKENS_H_
