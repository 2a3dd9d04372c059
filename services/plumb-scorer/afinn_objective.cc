// The `afinn` objective: AFINN-165 valence of the response text (afinn_lexicon.h), the mean
// rating over matched words and phrases (reduce: mean, the default, so a longer response is not
// rewarded for length) or their sum (reduce: sum). No match scores 0.
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
        source_(options.afinn.lexicon) {}

 protected:
  double ScoreText(absl::string_view text) const override {
    const AfinnLexicon::Valence valence = lexicon_.Score(text);
    if (valence.matches == 0) return 0.0;
    return reduce_ == AfinnReduce::kSum ? valence.sum : valence.sum / valence.matches;
  }

  std::string Explain() const override {
    return absl::StrCat(
        "AFINN-165 valence of the response, ", reduce_ == AfinnReduce::kSum ? "sum" : "mean",
        " of the ratings of matched words (", lexicon_.size(), " entries from ", source_, ")");
  }

 private:
  const AfinnLexicon lexicon_;
  const AfinnReduce reduce_;
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
