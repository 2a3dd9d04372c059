// What an LM judge is asked, as text, and how its answer becomes a probability; no model here
// (lm_judge_objective.h runs the model). RLAIF and constitutional AI label preferences by
// prompting a language model with a preamble, optionally a constitution principle, a few solved
// examples and the sample to annotate, ending with a string such as "Preferred Answer =" whose
// next tokens are the answer labels.
//
// A template is a YAML file (configs/judges/ has examples):
//   preamble:   text before everything; may hold {principle}
//   comparison: one sample; must hold {context}, {response_a} and {response_b}, and may hold
//               {principle}
//   ending:     appended after each sample, e.g. "Preferred Answer ="
//   labels:     the answer strings after the ending, first for A, second for B (" A", " B")
//   rating, rating_ending, rating_labels: the single-response form ({context}, {response}),
//               whose labels are the ratings 1..K in order (" 1" .. " 10")
//   separator:  between the preamble, each example and the sample ("\n\n")
//   few_shot:   solved comparisons [{context, response_a, response_b, preferred: A|B}]
//   principles: the constitution [{name, text}] (or a separate constitution file)
//   default_principle, principle_mode (one | all), position_debias (true)
// Placeholders are filled in one pass, so text that itself contains "{response_b}" stays as
// written; other braces are literal.
//
// Thread safety: plain values; the functions are pure.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_JUDGE_TEMPLATE_H_
#define PLUMB_SERVICES_PLUMB_SCORER_JUDGE_TEMPLATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/config/config_map.h"

namespace plumb::scorer {

inline constexpr int kMaxJudgeExamples = 64;
inline constexpr int kMaxJudgePrinciples = 256;
inline constexpr int kMaxJudgeLabels = 100;

struct JudgePrinciple {
  std::string name;  // [A-Za-z0-9_-]+, unique within the constitution
  std::string text;  // what {principle} becomes, e.g. "Which response is less harmful?"
};

// One solved comparison shown to the judge before the sample.
struct JudgeExample {
  std::string context;
  std::string response_a;
  std::string response_b;
  int preferred = 0;  // 0: A (labels[0]), 1: B (labels[1])
};

// How the constitution enters the prompt: the named (or default) principle, or all of them as
// one "- text" line each.
enum class PrincipleMode { kOne, kAll };

struct JudgeTemplate {
  std::string preamble;
  std::string comparison = "Context: {context}\nResponse A: {response_a}\nResponse B: {response_b}";
  std::string ending = "\nPreferred Answer =";
  std::vector<std::string> labels = {" A", " B"};
  std::string rating = "Context: {context}\nResponse: {response}";
  std::string rating_ending = "\nRating (1-10) =";
  std::vector<std::string> rating_labels = {" 1", " 2", " 3", " 4", " 5",
                                            " 6", " 7", " 8", " 9", " 10"};
  std::string separator = "\n\n";
  std::vector<JudgeExample> few_shot;
  std::vector<JudgePrinciple> principles;
  std::string default_principle;  // "" = the first principle
  PrincipleMode principle_mode = PrincipleMode::kOne;
  bool position_debias = true;  // score both orders and average
};

// Reads a template mapping (the keys above); errors are ConfigMap's "file:line: key ...".
absl::StatusOr<JudgeTemplate> ParseJudgeTemplate(config::ConfigMap& m);
// Reads `template_path`, then, when `constitution_path` is not empty, that file's `principles`
// and `default_principle` (which replace the template's; no default = its first principle). A
// constitution file without principles, a comparison without its three placeholders, a rating
// without {context} and {response}, principles with nowhere to go (no {principle}) or a default
// naming no principle are INVALID_ARGUMENT naming the file and key.
absl::StatusOr<JudgeTemplate> LoadJudgeTemplate(const std::string& template_path,
                                                const std::string& constitution_path);
// The checks LoadJudgeTemplate makes, for templates built in code; `source` prefixes messages.
absl::Status ValidateJudgeTemplate(const JudgeTemplate& t, absl::string_view source);

// The principle name a request resolves to: `requested`, else the default, else the first; ""
// when the template has no principles. INVALID_ARGUMENT for a name the constitution lacks, or a
// name given to a judge without principles.
absl::StatusOr<std::string> ResolvePrinciple(const JudgeTemplate& t, absl::string_view requested);

// The judge's prompt for (context, A, B) under principle `principle` (a ResolvePrinciple
// result): preamble, each few-shot example with its ending and answer label, then the sample and
// the ending, joined by the separator. The label follows the returned text directly.
std::string RenderComparison(const JudgeTemplate& t, absl::string_view principle,
                             absl::string_view context, absl::string_view response_a,
                             absl::string_view response_b);
// The single-response prompt: preamble, the rating sample, the rating ending.
std::string RenderRating(const JudgeTemplate& t, absl::string_view principle,
                         absl::string_view context, absl::string_view response);

// P(first label) from the labels' log-probabilities, normalised over the two labels.
double PreferenceFromLabelLogProbs(double logp_first, double logp_second);
// Position debiasing: `p_a_when_first` is P(A) with the first response shown as A;
// `p_a_when_second` is P(A) with the two swapped (the first response shown as B). The average
// of P(first preferred) over both orders: (p_a_when_first + 1 - p_a_when_second) / 2.
double DebiasedPreference(double p_a_when_first, double p_a_when_second);
// The expected rating over labels 1..K, normalised over them, mapped to [0, 1]:
// (E[k] - 1) / (K - 1).
double RatingFromLabelLogProbs(absl::Span<const double> logps);

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_JUDGE_TEMPLATE_H_
