#include "common/tokenizer/prompt_template.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace plumb::tokenizer {
namespace {

// Splits `format` around the one occurrence of `placeholder`.
absl::StatusOr<std::pair<std::string, std::string>> SplitAt(absl::string_view format,
                                                            absl::string_view placeholder) {
  const size_t at = format.find(placeholder);
  if (at == absl::string_view::npos ||
      format.find(placeholder, at + placeholder.size()) != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("template \"", format, "\" must contain ", placeholder, " exactly once"));
  }
  return std::make_pair(std::string(format.substr(0, at)),
                        std::string(format.substr(at + placeholder.size())));
}

void Append(const std::vector<int32_t>& ids, std::vector<int32_t>* out) {
  out->insert(out->end(), ids.begin(), ids.end());
}

}  // namespace

absl::StatusOr<PromptTemplate> PromptTemplate::FromFormat(absl::string_view prompt_format,
                                                          absl::string_view response_format,
                                                          bool add_bos, bool add_eos) {
  auto prompt = SplitAt(prompt_format, "{prompt}");
  if (!prompt.ok()) return prompt.status();
  auto response = SplitAt(response_format, "{response}");
  if (!response.ok()) return response.status();
  PromptTemplate result;
  result.prompt_prefix = std::move(prompt->first);
  result.prompt_suffix = std::move(prompt->second);
  result.response_prefix = std::move(response->first);
  result.response_suffix = std::move(response->second);
  result.add_bos = add_bos;
  result.add_eos = add_eos;
  return result;
}

absl::StatusOr<PromptFormatter> PromptFormatter::Create(const Tokenizer* tokenizer,
                                                        PromptTemplate prompt_template) {
  if (prompt_template.add_bos && !tokenizer->bos_id().has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the prompt template adds a bos token but the tokenizer (",
                     tokenizer->description(), ") has none; set add_bos to false"));
  }
  if (prompt_template.add_eos && !tokenizer->eos_id().has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the prompt template adds an eos token but the tokenizer (", tokenizer->description(),
        ") has none; set add_eos to false or end responses with response_suffix"));
  }
  return PromptFormatter(tokenizer, std::move(prompt_template));
}

PromptFormatter::PromptFormatter(const Tokenizer* tokenizer, PromptTemplate prompt_template)
    : tokenizer_(tokenizer), template_(std::move(prompt_template)) {
  const EncodeOptions markup{.allow_special = true};
  if (template_.add_bos) before_prompt_.push_back(*tokenizer_->bos_id());
  tokenizer_->EncodeTo(template_.prompt_prefix, markup, &before_prompt_);
  tokenizer_->EncodeTo(template_.prompt_suffix, markup, &after_prompt_);
  tokenizer_->EncodeTo(template_.response_prefix, markup, &after_prompt_);
  tokenizer_->EncodeTo(template_.response_suffix, markup, &after_response_);
  if (template_.add_eos) after_response_.push_back(*tokenizer_->eos_id());
}

std::vector<int32_t> PromptFormatter::EncodePrompt(absl::string_view prompt) const {
  std::vector<int32_t> ids = before_prompt_;
  tokenizer_->EncodeTo(prompt, EncodeOptions{.allow_special = false}, &ids);
  Append(after_prompt_, &ids);
  return ids;
}

std::vector<int32_t> PromptFormatter::EncodeResponse(absl::string_view response) const {
  std::vector<int32_t> ids;
  tokenizer_->EncodeTo(response, EncodeOptions{.allow_special = false}, &ids);
  Append(after_response_, &ids);
  return ids;
}

TokenizedExample PromptFormatter::EncodeExample(absl::string_view prompt,
                                                absl::string_view response) const {
  TokenizedExample example;
  example.ids = EncodePrompt(prompt);
  example.response_start = example.ids.size();
  tokenizer_->EncodeTo(response, EncodeOptions{.allow_special = false}, &example.ids);
  Append(after_response_, &example.ids);
  return example;
}

}  // namespace plumb::tokenizer
