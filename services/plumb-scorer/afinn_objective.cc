// The `afinn` objective: AFINN-165 valence (afinn_lexicon.h) of the response text (context:
// response) or of what the response adds to the prompt (context: prompt_and_response_delta), the
// mean rating over matched words and phrases (reduce: mean, the default, so a longer response is
// not rewarded for length) or their sum (reduce: sum). No match scores 0.
#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/plumb-scorer/afinn_lexicon.h"
#include "services/plumb-scorer/text_objective.h"

namespace plumb::scorer {
namespace {

class AfinnObjective final : public TextObjective {
 public:
  AfinnObjective(const ObjectiveOptions& options, std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                 AfinnLexicon lexicon)
      : TextObjective(options, std::move(tokenizer)),
        lexicon_(std::move(lexicon)),
        reduce_(options.afinn.reduce),
        context_(options.afinn.context),
        source_(options.afinn.lexicon) {}

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

}  // namespace

absl::StatusOr<std::unique_ptr<Objective>> CreateAfinnObjective(const ObjectiveOptions& options) {
  absl::StatusOr<AfinnLexicon> lexicon = AfinnLexicon::Load(options.afinn.lexicon);
  if (!lexicon.ok()) {
    return absl::Status(lexicon.status().code(), absl::StrCat("objective '", options.name,
                                                              "': ", lexicon.status().message()));
  }
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tokenizer = LoadObjectiveTokenizer(options);
  if (!tokenizer.ok()) return tokenizer.status();
  return std::make_unique<AfinnObjective>(options, *std::move(tokenizer), *std::move(lexicon));
}

}  // namespace plumb::scorer
