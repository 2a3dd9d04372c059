// Token sequences given on the command line as text or as ids, and ids shown as text.
//
// Thread safety: pure functions (the tokenizer is thread-safe).
#ifndef PLUMB_SERVICES_PLUMB_MODEL_TOKEN_TEXT_H_
#define PLUMB_SERVICES_PLUMB_MODEL_TOKEN_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/tokenizer/tokenizer.h"

namespace plumb::model_tool {

// A prompt or response: text to encode, or ids as given.
struct TextOrIds {
  std::optional<std::string> text;
  std::vector<int64_t> ids;
};

// The ids of `input`. Text needs a tokenizer: without one, `tokenizer_error` (why it could not
// be loaded) is returned. Special-token spellings in text are encoded as plain text; with
// `add_bos` the tokenizer's bos id goes first (FAILED_PRECONDITION when it has none).
absl::StatusOr<std::vector<int64_t>> ToIds(const TextOrIds& input,
                                           const tokenizer::Tokenizer* tokenizer,
                                           const absl::Status& tokenizer_error, bool add_bos);

// The text of `ids`, or nullopt without a tokenizer or when an id is not in its vocabulary (a
// model's vocab_size may exceed its tokenizer's).
std::optional<std::string> DecodeIds(const tokenizer::Tokenizer* tokenizer,
                                     absl::Span<const int64_t> ids, bool skip_special);

// A JSON string, or null for nullopt.
nlohmann::ordered_json JsonOrNull(const std::optional<std::string>& text);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_TOKEN_TEXT_H_
