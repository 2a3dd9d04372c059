// The base of objectives that read text: the AFINN lexicon judge (afinn_objective.h) and the
// length and format rules (rule_objectives.h). They read the response; an objective that also
// reads the prompt (AFINN with context prompt_and_response_delta) says so with ReadsPrompt().
// Text given as token ids only is decoded with the objective's tokenizer (special tokens
// skipped); without one it is INVALID_ARGUMENT.
//
// Thread safety: immutable after creation; Prepare and Run may run on many threads at once.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_TEXT_OBJECTIVE_H_
#define PLUMB_SERVICES_PLUMB_SCORER_TEXT_OBJECTIVE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/tokenizer/tokenizer.h"
#include "services/plumb-scorer/objective.h"

namespace plumb::scorer {

class TextObjective : public ScoringObjective {
 public:
  absl::StatusOr<std::unique_ptr<Batch>> Prepare(absl::Span<const ScoreInput> items) const override;
  absl::StatusOr<std::vector<double>> Run(const Batch& batch,
                                          absl::Span<const size_t> positions) const override;
  ObjectiveDescription Describe() const override;

 protected:
  // `tokenizer` may be null (then ids-only responses are rejected).
  TextObjective(const ObjectiveOptions& options, std::unique_ptr<tokenizer::Tokenizer> tokenizer);

  virtual double ScoreText(absl::string_view text) const = 0;
  // Objectives that read the prompt override both; the default ignores the prompt.
  virtual bool ReadsPrompt() const { return false; }
  virtual double ScoreTexts(absl::string_view prompt, absl::string_view response) const {
    return ScoreText(response);
  }
  // One line for ObjectiveDescription::description.
  virtual std::string Explain() const = 0;

 private:
  const std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
};

// The text of one part of an item (`where`, e.g. "items[3].response") for objective
// `objective`: its text (when `given`, even empty, or non-empty), or its ids decoded with
// `tokenizer` (special tokens skipped). INVALID_ARGUMENT naming `where` when there are ids only
// and no tokenizer, or ids the tokenizer cannot decode.
absl::StatusOr<std::string> ItemText(const tokenizer::Tokenizer* tokenizer,
                                     absl::string_view objective, const std::string& text,
                                     bool given, const std::vector<int32_t>& ids,
                                     absl::string_view where);

// "" = no tokenizer; else LoadTokenizer(path_or_name), errors naming the objective.
absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> LoadObjectiveTokenizer(
    const ObjectiveOptions& options);

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_TEXT_OBJECTIVE_H_
