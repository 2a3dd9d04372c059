#include "services/plumb-model/token_text.h"

#include "absl/strings/str_cat.h"

namespace plumb::model_tool {

absl::StatusOr<std::vector<int64_t>> ToIds(const TextOrIds& input,
                                           const tokenizer::Tokenizer* tokenizer,
                                           const absl::Status& tokenizer_error, bool add_bos) {
  if (!input.text.has_value()) return input.ids;
  if (tokenizer == nullptr) return tokenizer_error;
  std::vector<int64_t> ids;
  if (add_bos) {
    if (!tokenizer->bos_id().has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("--bos: the tokenizer (", tokenizer->description(), ") has no bos token"));
    }
    ids.push_back(*tokenizer->bos_id());
  }
  absl::StatusOr<std::vector<int32_t>> encoded = tokenizer->TryEncode(*input.text);
  if (!encoded.ok()) return encoded.status();
  for (const int32_t id : *encoded) ids.push_back(id);
  return ids;
}

std::optional<std::string> DecodeIds(const tokenizer::Tokenizer* tokenizer,
                                     absl::Span<const int64_t> ids, bool skip_special) {
  if (tokenizer == nullptr) return std::nullopt;
  std::vector<int32_t> narrow;
  narrow.reserve(ids.size());
  for (const int64_t id : ids) {
    if (id < 0 || id >= tokenizer->vocab_size()) return std::nullopt;
    narrow.push_back(static_cast<int32_t>(id));
  }
  absl::StatusOr<std::string> text =
      tokenizer->Decode(narrow, tokenizer::DecodeOptions{.skip_special = skip_special});
  if (!text.ok()) return std::nullopt;
  return *std::move(text);
}

nlohmann::ordered_json JsonOrNull(const std::optional<std::string>& text) {
  if (!text.has_value()) return nullptr;
  return *text;
}

}  // namespace plumb::model_tool
