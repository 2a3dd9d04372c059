#include "services/plumb-scorer/afinn_objective.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/plumb-scorer/afinn_lexicon.h"
#include "services/plumb-scorer/text_objective.h"

namespace plumb::scorer {
namespace {

class AfinnObjective final : public TextObjective {
 public:
  AfinnObjective(const ObjectiveOptions& objective, const AfinnOptions& options,
                 std::unique_ptr<tokenizer::Tokenizer> tokenizer, AfinnLexicon lexicon)
      : TextObjective(objective, std::move(tokenizer)),
        lexicon_(std::move(lexicon)),
        reduce_(options.reduce),
        context_(options.context),
        source_(options.lexicon) {}

 protected:
  double ScoreText(absl::string_view text) const override {
    const AfinnLexicon::Valence valence = lexicon_.Score(text);
    return Reduce(valence.sum, valence.matches);
  }

  bool ReadsPrompt() const override { return context_ == AfinnContext::kPromptAndResponseDelta; }

  double ScoreTexts(absl::string_view prompt, absl::string_view response) const override {
    const AfinnLexicon::Valence before = lexicon_.Score(prompt);
    const AfinnLexicon::Valence after = lexicon_.Score(absl::StrCat(prompt, response));
    return Reduce(after.sum - before.sum, after.matches - before.matches);
  }

  std::string Explain() const override {
    return absl::StrCat(
        "AFINN-165 valence ",
        context_ == AfinnContext::kResponse ? "of the response" : "the response adds to the prompt",
        ", ", reduce_ == AfinnReduce::kSum ? "sum" : "mean", " of the ratings of matched words (",
        lexicon_.size(), " entries from ", source_, ")");
  }

 private:
  // sum: the sum; mean: the sum over the number of matches, at least 1 (a delta can remove
  // matches: "good" + "bye" adds -3 over -1 matches, which must stay -3).
  double Reduce(double sum, int matches) const {
    if (reduce_ == AfinnReduce::kSum) return sum;
    return sum / std::max(1, std::abs(matches));
  }

  const AfinnLexicon lexicon_;
  const AfinnReduce reduce_;
  const AfinnContext context_;
  const std::string source_;
};

absl::Status ParseAfinn(config::ConfigMap& m, absl::string_view base_dir, AfinnOptions* o) {
  RETURN_IF_ERROR(m.Read("lexicon", &o->lexicon));
  if (o->lexicon.empty()) return m.Error("lexicon", "must name the lexicon file");
  o->lexicon = ResolveConfigPath(base_dir, o->lexicon);
  std::string reduce = "mean";
  RETURN_IF_ERROR(m.ReadChoice("reduce", &reduce, {"mean", "sum"}));
  o->reduce = reduce == "sum" ? AfinnReduce::kSum : AfinnReduce::kMean;
  std::string context = "response";
  RETURN_IF_ERROR(m.ReadChoice("context", &context, {"response", "prompt_and_response_delta"}));
  o->context =
      context == "response" ? AfinnContext::kResponse : AfinnContext::kPromptAndResponseDelta;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ScoringObjective>> CreateAfinn(const ObjectiveOptions& objective,
                                                              const AfinnOptions& options,
                                                              int /*max_batch_size*/) {
  absl::StatusOr<AfinnLexicon> lexicon = AfinnLexicon::Load(options.lexicon);
  if (!lexicon.ok()) {
    return absl::Status(lexicon.status().code(), absl::StrCat("objective '", objective.name,
                                                              "': ", lexicon.status().message()));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                   LoadObjectiveTokenizer(objective));
  return std::make_unique<AfinnObjective>(objective, options, std::move(tokenizer),
                                          *std::move(lexicon));
}

}  // namespace

std::shared_ptr<const ScoringObjectiveKind> AfinnObjectiveKind() {
  static const auto* const kind =
      new std::shared_ptr<const ScoringObjectiveKind>(MakeObjectiveKind<AfinnOptions>({
          .name = "afinn",
          .category = ObjectiveCategory::kLexicon,
          .parse = ParseAfinn,
          .create = CreateAfinn,
      }));
  return *kind;
}

}  // namespace plumb::scorer
