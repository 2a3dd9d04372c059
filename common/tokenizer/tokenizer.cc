#include "common/tokenizer/tokenizer.h"

#include "common/status/status_macros.h"

namespace plumb::tokenizer {

std::vector<int32_t> Tokenizer::Encode(absl::string_view text, const EncodeOptions& options) const {
  std::vector<int32_t> ids;
  EncodeTo(text, options, &ids);
  return ids;
}

absl::StatusOr<std::string> Tokenizer::Decode(absl::Span<const int32_t> ids,
                                              const DecodeOptions& options) const {
  std::string text;
  RETURN_IF_ERROR(DecodeTo(ids, options, &text));
  return text;
}

}  // namespace plumb::tokenizer
