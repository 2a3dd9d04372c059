#include "common/tokenizer/tokenizer.h"

#include "common/status/status_macros.h"

namespace plumb::tokenizer {

void Tokenizer::EncodeTo(absl::string_view text, const EncodeOptions& options,
                         std::vector<int32_t>* ids) const {
  AppendEncoding(text, options, ids).IgnoreError();  // the fallback is documented and lossless
}

absl::Status Tokenizer::TryEncodeTo(absl::string_view text, const EncodeOptions& options,
                                    std::vector<int32_t>* ids) const {
  const size_t before = ids->size();
  absl::Status status = AppendEncoding(text, options, ids);
  if (!status.ok()) ids->resize(before);
  return status;
}

std::vector<int32_t> Tokenizer::Encode(absl::string_view text, const EncodeOptions& options) const {
  std::vector<int32_t> ids;
  EncodeTo(text, options, &ids);
  return ids;
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::TryEncode(absl::string_view text,
                                                          const EncodeOptions& options) const {
  std::vector<int32_t> ids;
  RETURN_IF_ERROR(TryEncodeTo(text, options, &ids));
  return ids;
}

absl::StatusOr<std::string> Tokenizer::Decode(absl::Span<const int32_t> ids,
                                              const DecodeOptions& options) const {
  std::string text;
  RETURN_IF_ERROR(DecodeTo(ids, options, &text));
  return text;
}

}  // namespace plumb::tokenizer
