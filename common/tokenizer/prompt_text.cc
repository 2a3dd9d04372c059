#include "common/tokenizer/prompt_text.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace plumb::tokenizer {
namespace {

absl::StatusOr<std::vector<int64_t>> Encode(const Tokenizer& tokenizer, absl::string_view text,
                                            int64_t max_bytes, absl::string_view what, bool bos) {
  if (static_cast<int64_t>(text.size()) > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": text of ", text.size(), " bytes is over the limit of ", max_bytes,
                     " bytes for this model's context; shorten it or send token ids"));
  }
  std::vector<int32_t> ids;
  if (bos && tokenizer.bos_id().has_value()) ids.push_back(*tokenizer.bos_id());
  // A pre-tokenizer regex that runs out of its work budget is an error here, never a hang.
  if (absl::Status encoded = tokenizer.TryEncodeTo(text, {}, &ids); !encoded.ok()) {
    return absl::Status(encoded.code(), absl::StrCat(what, ": ", encoded.message()));
  }
  return std::vector<int64_t>(ids.begin(), ids.end());
}

}  // namespace

int64_t MaxPromptTextBytes(int64_t context_tokens) {
  return std::max<int64_t>(4096, 32 * context_tokens);
}

absl::StatusOr<std::vector<int64_t>> EncodePromptText(const Tokenizer& tokenizer,
                                                      absl::string_view text, int64_t max_bytes,
                                                      absl::string_view what) {
  return Encode(tokenizer, text, max_bytes, what, /*bos=*/true);
}

absl::StatusOr<std::vector<int64_t>> EncodeResponseText(const Tokenizer& tokenizer,
                                                        absl::string_view text, int64_t max_bytes,
                                                        absl::string_view what) {
  return Encode(tokenizer, text, max_bytes, what, /*bos=*/false);
}

}  // namespace plumb::tokenizer
