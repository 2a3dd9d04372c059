// One named way of scoring a (prompt, response): the interface every scoring objective implements,
// and the plain types the scorer exchanges with its callers.
//
// Scoring is two-phase so that a request is rejected before any model work: Prepare checks and
// converts every item (tokenizes, decodes, range-checks) and pins the state it will score with
// (a model snapshot); Run then scores any subset of the prepared items.
//
// Thread safety: every method may be called from several threads at once. Implementations
// serialise their own model work (see reward_model_objective.h).
#ifndef PLUMB_SERVICES_PLUMB_SCORER_OBJECTIVE_H_
#define PLUMB_SERVICES_PLUMB_SCORER_OBJECTIVE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/api/scorer_types.h"
#include "services/plumb-scorer/objective_kind.h"
#include "services/plumb-scorer/scorer_options.h"

namespace plumb::weights {
class VersionedModel;
}  // namespace plumb::weights

namespace plumb::scorer {

// What GetInfo reports about the model behind a model-backed objective.
struct ModelDescription {
  std::string weights_source;  // the model folder, or the source of the last weight stream
  int64_t vocab_size = 0;
  int64_t context_length = 0;
  int64_t parameter_count = 0;
  int64_t num_reward_outputs = 0;
  std::string architecture = "llama";  // model::ModelConfig::Architecture()
  uint64_t version = 0;                // 0 = as loaded from the folder
  std::string device;
  std::string dtype;
  std::string tokenizer;  // Tokenizer::description(), "" when the objective has none
};

struct ObjectiveDescription {
  std::string name;
  std::string kind;  // the registered kind's name, e.g. "afinn"
  ObjectiveCategory category = ObjectiveCategory::kRule;
  std::string description;  // one line, e.g. "AFINN-165 valence, mean over matched words"
  std::optional<ModelDescription> model;
  double mean = 0.0;
  double stddev = 0.0;
};

// What GetInfo reports about an objective that also compares responses (an LM judge).
struct JudgeDescription {
  std::string preamble;
  int few_shot_examples = 0;
  std::vector<std::pair<std::string, std::string>> principles;  // (name, text)
  std::string default_principle;
  bool position_debiased = false;
};

// P(first preferred) for each pair, and the principle applied (after defaults).
struct JudgeVerdicts {
  std::string principle;
  std::vector<double> p_first;
};

// The pairwise side of an objective that judges (lm_judge_objective.h).
class PairwiseJudge {
 public:
  virtual ~PairwiseJudge() = default;
  // firsts[i] and seconds[i] are two responses to one prompt (the prompt is read from firsts).
  // INVALID_ARGUMENT naming "pairs[i]" for a pair the judge cannot read or that does not fit its
  // context; for a principle its constitution lacks.
  virtual absl::StatusOr<JudgeVerdicts> Compare(absl::Span<const ScoreInput> firsts,
                                                absl::Span<const ScoreInput> seconds,
                                                const std::string& principle) const = 0;
  virtual JudgeDescription DescribeJudge() const = 0;
};

class ScoringObjective {
 public:
  // Items checked and converted by Prepare, bound to the state they will be scored with.
  class Batch {
   public:
    virtual ~Batch() = default;
    // Changes whenever the scoring state changes (a model swap); part of cache keys.
    virtual uint64_t generation() const { return 0; }
  };

  virtual ~ScoringObjective() = default;

  const std::string& name() const { return name_; }

  // INVALID_ARGUMENT naming "items[i]..." for an item this objective cannot score.
  virtual absl::StatusOr<std::unique_ptr<Batch>> Prepare(
      absl::Span<const ScoreInput> items) const = 0;
  // Scores the prepared items at `positions` (indexes into Prepare's items), in that order.
  virtual absl::StatusOr<std::vector<double>> Run(const Batch& batch,
                                                  absl::Span<const size_t> positions) const = 0;

  virtual ObjectiveDescription Describe() const = 0;

  // The model a weight stream naming this objective loads into (in-flight batches keep the
  // snapshot they pinned). FAILED_PRECONDITION for an objective that is not model-backed.
  virtual absl::StatusOr<weights::VersionedModel*> ModelForWeights();

  // The objective's pairwise judge, or null when it only scores single responses.
  virtual const PairwiseJudge* judge() const { return nullptr; }

 protected:
  // Keeps what every description repeats: the name, the kind, the normalisation.
  explicit ScoringObjective(const ObjectiveOptions& options);

  // Describe()'s fields every objective fills alike: name, kind, category, mean and stddev.
  ObjectiveDescription CommonDescription() const;

 private:
  const std::string name_;
  const std::string kind_;
  const ObjectiveCategory category_;
  const double mean_;
  const double stddev_;
};

// Builds the objective `options` describes through its kind (objective_kind.h): loads its model,
// tokenizer or lexicon, compiles its pattern. `max_batch_size` bounds the sequences of one
// forward pass. INVALID_ARGUMENT when no kind is set.
absl::StatusOr<std::unique_ptr<ScoringObjective>> CreateObjective(const ObjectiveOptions& options,
                                                                  int max_batch_size);

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_OBJECTIVE_H_
