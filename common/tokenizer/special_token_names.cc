#include "common/tokenizer/special_token_names.h"

#include <initializer_list>

namespace plumb::tokenizer {
namespace {

std::optional<std::string> FirstPresent(std::initializer_list<absl::string_view> spellings,
                                        absl::FunctionRef<bool(absl::string_view)> has_token) {
  for (absl::string_view spelling : spellings) {
    if (has_token(spelling)) return std::string(spelling);
  }
  return std::nullopt;
}

}  // namespace

SpecialTokenNames GuessSpecialTokenNames(absl::FunctionRef<bool(absl::string_view)> has_token) {
  SpecialTokenNames names;
  names.bos = FirstPresent(
      {"<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>", "<|endoftext|>"}, has_token);
  names.eos = FirstPresent({"<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>"}, has_token);
  names.pad = FirstPresent({"<pad>", "<|pad|>", "[PAD]"}, has_token);
  return names;
}

}  // namespace plumb::tokenizer
