#include "common/train/example_encoder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace plumb::train {

absl::Status ParseEncoderOptions(config::ConfigMap& section, EncoderOptions* options) {
  RETURN_IF_ERROR(section.Read("tokenizer", &options->tokenizer));
  RETURN_IF_ERROR(section.Read("max_length", &options->max_length, config::IntRange{2, 1 << 24}));
  RETURN_IF_ERROR(
      section.Read("max_prompt_length", &options->max_prompt_length, config::IntRange{1, 1 << 24}));
  RETURN_IF_ERROR(section.Read("add_bos", &options->add_bos));
  RETURN_IF_ERROR(section.Read("add_eos", &options->add_eos));
  std::string truncation = "left";
  RETURN_IF_ERROR(section.ReadChoice("truncation", &truncation, {"left", "right", "error"}));
  options->truncation = truncation == "left"    ? Truncation::kLeft
                        : truncation == "right" ? Truncation::kRight
                                                : Truncation::kError;
  if (options->max_prompt_length >= options->max_length) {
    return section.Error("max_prompt_length",
                         "must be smaller than max_length, so that a response always fits");
  }
  return section.Finish();
}

ExampleEncoder::ExampleEncoder(std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                               EncoderOptions options)
    : tokenizer_(std::move(tokenizer)), options_(std::move(options)) {}

std::vector<int64_t> ExampleEncoder::PromptIds(absl::string_view prompt) const {
  std::vector<int32_t> ids;
  if (options_.add_bos && tokenizer_->bos_id().has_value()) ids.push_back(*tokenizer_->bos_id());
  tokenizer_->EncodeTo(prompt, {}, &ids);
  // A model needs at least one position to predict the first response token from.
  if (ids.empty()) {
    const auto filler =
        tokenizer_->bos_id().has_value() ? tokenizer_->bos_id() : tokenizer_->eos_id();
    ids.push_back(filler.value_or(0));
  }
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::vector<int64_t> ExampleEncoder::ResponseIds(absl::string_view response) const {
  std::vector<int32_t> ids;
  tokenizer_->EncodeTo(response, {}, &ids);
  if (options_.add_eos && tokenizer_->eos_id().has_value()) ids.push_back(*tokenizer_->eos_id());
  return std::vector<int64_t>(ids.begin(), ids.end());
}

absl::StatusOr<EncodedSequence> ExampleEncoder::Encode(absl::string_view prompt,
                                                       absl::string_view response) const {
  ASSIGN_OR_RETURN(std::vector<EncodedSequence> one, EncodeShared(prompt, {response}));
  return std::move(one.front());
}

TruncationCounts ExampleEncoder::counts() const {
  return {sequences_.load(), prompts_cut_.load(), responses_cut_.load()};
}

absl::StatusOr<std::vector<EncodedSequence>> ExampleEncoder::EncodeShared(
    absl::string_view prompt, const std::vector<absl::string_view>& responses) const {
  std::vector<int64_t> prompt_ids = PromptIds(prompt);
  std::vector<std::vector<int64_t>> response_ids;
  size_t longest = 0;
  for (absl::string_view r : responses) {
    response_ids.push_back(ResponseIds(r));
    longest = std::max(longest, response_ids.back().size());
  }
  const int64_t max_length = options_.max_length;
  const int64_t total = static_cast<int64_t>(prompt_ids.size() + longest);
  if (options_.truncation == Truncation::kError && total > max_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the prompt (", prompt_ids.size(), " tokens) and its longest response (", longest,
        " tokens) are over tokenization.max_length ", max_length,
        " (tokenization.truncation: error); raise max_length or set truncation: left | right"));
  }
  bool prompt_cut = false;
  const int64_t prompt_budget =
      std::max<int64_t>(options_.max_prompt_length, max_length - static_cast<int64_t>(longest));
  if (static_cast<int64_t>(prompt_ids.size()) > prompt_budget) {
    if (options_.truncation == Truncation::kRight) {
      prompt_ids.resize(prompt_budget);
    } else {
      prompt_ids.erase(prompt_ids.begin(), prompt_ids.end() - prompt_budget);
    }
    prompt_cut = true;
  }
  const int64_t response_budget = max_length - static_cast<int64_t>(prompt_ids.size());
  std::vector<EncodedSequence> out;
  out.reserve(responses.size());
  for (std::vector<int64_t>& ids : response_ids) {
    EncodedSequence seq;
    seq.prompt_cut = prompt_cut;
    if (static_cast<int64_t>(ids.size()) > response_budget) {
      ids.resize(response_budget);
      seq.response_cut = true;
    }
    seq.truncated = seq.prompt_cut || seq.response_cut;
    seq.prompt = prompt_ids;
    seq.response = std::move(ids);
    sequences_.fetch_add(1);
    if (seq.prompt_cut) prompts_cut_.fetch_add(1);
    if (seq.response_cut) responses_cut_.fetch_add(1);
    out.push_back(std::move(seq));
  }
  return out;
}

}  // namespace plumb::train
