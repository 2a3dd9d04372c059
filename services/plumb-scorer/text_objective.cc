#include "services/plumb-scorer/text_objective.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/tokenizer/load_tokenizer.h"

namespace plumb::scorer {
namespace {

struct TextBatch final : ScoringObjective::Batch {
  std::vector<std::string> texts;
  std::vector<std::string> prompts;  // only when the objective ReadsPrompt()
};

}  // namespace

TextObjective::TextObjective(const ObjectiveOptions& options,
                             std::unique_ptr<tokenizer::Tokenizer> tokenizer)
    : ScoringObjective(options), tokenizer_(std::move(tokenizer)) {}

absl::StatusOr<std::unique_ptr<ScoringObjective::Batch>> TextObjective::Prepare(
    absl::Span<const ScoreInput> items) const {
  auto batch = std::make_unique<TextBatch>();
  batch->texts.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const ScoreInput& item = items[i];
    ASSIGN_OR_RETURN(std::string response, ItemText(tokenizer_.get(), name(), item.response_text,
                                                    item.response_text_given, item.response_ids,
                                                    absl::StrCat("items[", i, "].response")));
    batch->texts.push_back(std::move(response));
    if (ReadsPrompt()) {
      ASSIGN_OR_RETURN(std::string prompt,
                       ItemText(tokenizer_.get(), name(), item.prompt_text, false, item.prompt_ids,
                                absl::StrCat("items[", i, "].prompt")));
      batch->prompts.push_back(std::move(prompt));
    }
  }
  return batch;
}

absl::StatusOr<std::string> ItemText(const tokenizer::Tokenizer* tokenizer,
                                     absl::string_view objective, const std::string& text,
                                     bool given, const std::vector<int32_t>& ids,
                                     absl::string_view where) {
  if (given || !text.empty() || ids.empty()) return text;
  if (tokenizer == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": objective '", objective, "' reads text, but the item has ",
        "token ids only and the objective has no tokenizer to decode them (set its `tokenizer`, "
        "or send the text)"));
  }
  absl::StatusOr<std::string> decoded =
      tokenizer->Decode(ids, tokenizer::DecodeOptions{.skip_special = true});
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".token_ids: objective '", objective,
                                                   "': ", decoded.status().message()));
  }
  return *std::move(decoded);
}

absl::StatusOr<std::vector<double>> TextObjective::Run(const Batch& batch,
                                                       absl::Span<const size_t> positions) const {
  const auto& texts = static_cast<const TextBatch&>(batch).texts;
  std::vector<double> scores;
  scores.reserve(positions.size());
  const auto& prompts = static_cast<const TextBatch&>(batch).prompts;
  for (size_t position : positions) {
    scores.push_back(ReadsPrompt() ? ScoreTexts(prompts.at(position), texts.at(position))
                                   : ScoreText(texts.at(position)));
  }
  return scores;
}

ObjectiveDescription TextObjective::Describe() const {
  ObjectiveDescription description = CommonDescription();
  description.description = Explain();
  return description;
}

absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> LoadObjectiveTokenizer(
    const ObjectiveOptions& options) {
  if (options.tokenizer.empty()) return std::unique_ptr<tokenizer::Tokenizer>();
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> loaded =
      tokenizer::LoadTokenizer(options.tokenizer);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(),
                        absl::StrCat("objective '", options.name, "': tokenizer '",
                                     options.tokenizer, "': ", loaded.status().message()));
  }
  return loaded;
}

}  // namespace plumb::scorer
