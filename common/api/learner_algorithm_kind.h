// Learner algorithms as a registry. An algorithm kind (sft, ppo, grpo, dpo, ...) lives in one
// file under algorithm_kinds/ that says which Train batches it takes, which of the learner's
// updates trains on them, its defaults and the validation of its own options; one line in
// algorithm_kinds/builtin_algorithm_kinds.cc registers it. SessionOptions::Defaults / Validate and
// the learner's Train methods look a session's kind up here instead of switching over Algorithm.
// Protos stay out: the TrainingConfig <-> kind mapping is the adapters' (one table line a kind).
//
// Thread safety: a kind is immutable once registered; a registry is filled once, then only read.
#ifndef PLUMB_COMMON_API_LEARNER_ALGORITHM_KIND_H_
#define PLUMB_COMMON_API_LEARNER_ALGORITHM_KIND_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/api/learner_options.h"

namespace plumb::learner {

// The batches of TrainRequest's oneof, one Train method of the learner core each.
enum class TrainBatchKind { kExperience, kPreference, kSft, kUnpaired, kRanked };

// "experience", "preference", "SFT", "unpaired", "ranked", as the learner's errors say them.
const char* TrainBatchKindName(TrainBatchKind batch);

// The learner's updates on experience batches (learner_rollout_updates.cc).
enum class RolloutUpdate {
  kNone,            // the kind takes no experience batches
  kPpo,             // critic values, GAE, epochs of the clipped surrogate and value loss
  kCriticFree,      // one advantage per sequence (SequenceAdvantage), epochs of the surrogate
  kBestOfGroupSft,  // rejection sampling: one SFT step on the best samples of each prompt group
};

// How a critic-free update turns sequence rewards into advantages.
enum class SequenceAdvantage {
  kGroupNormalized,  // GRPO: reward minus the prompt group's mean (over its std); not re-whitened
  kLeaveOneOut,      // RLOO: reward minus the mean of the group's other samples
  kBaseline,         // REINFORCE: reward minus a moving-average or batch-mean baseline
};

struct LearnerAlgorithmKind {
  Algorithm algorithm = Algorithm::kSft;
  // The TrainingConfig field of its options ("ppo", "rejection_sampling"): unique, the name a
  // kind is found by, and the prefix of its validation errors.
  std::string name;
  std::string label;                    // what updates and errors call it ("GRPO", "reward-model")
  std::vector<TrainBatchKind> batches;  // the Train batches it takes, at least one
  // Trains on the policy's own samples: one optimizer step per minibatch, no accumulation.
  bool on_policy = false;
  RolloutUpdate rollout_update = RolloutUpdate::kNone;  // set iff it takes experience batches
  SequenceAdvantage advantage = SequenceAdvantage::kBaseline;  // kCriticFree only
  // The common/train objective of its offline batches (train::ObjectiveOptions::kind); "sft"
  // also for rejection sampling's SFT step. "reward_model" trains the reward head.
  std::string objective = "sft";
  // Sets the algorithm's defaults over SessionOptions{}'s; unset: none of its own.
  std::function<void(SessionOptions&)> defaults;
  // Checks its own options (SessionOptions::Validate then checks the shared ones); INVALID_ARGUMENT
  // naming the field. Unset: nothing of its own.
  std::function<absl::Status(const SessionOptions&)> validate;
  // Whether its batches must carry reference log-probs under these options (per token for
  // experience, summed for preference pairs); unset: never.
  std::function<bool(const SessionOptions&)> needs_reference;

  bool Takes(TrainBatchKind batch) const;
  // Its offline updates train the reward head (a checkpoint without one gets one output).
  bool TrainsRewardHead() const { return objective == "reward_model"; }
  bool NeedsReference(const SessionOptions& options) const {
    return needs_reference && needs_reference(options);
  }
};

// Kinds by algorithm and by name, in registration order.
class LearnerAlgorithmRegistry {
 public:
  // INVALID_ARGUMENT for a kind without a name, label or batches, whose rollout_update disagrees
  // with its batches, or whose algorithm or name is registered already.
  absl::Status Add(LearnerAlgorithmKind kind);
  // INVALID_ARGUMENT naming the field ("config.algorithm: unknown value 42") when none matches.
  absl::StatusOr<const LearnerAlgorithmKind*> Find(Algorithm algorithm) const;
  absl::StatusOr<const LearnerAlgorithmKind*> Find(absl::string_view name) const;
  const std::vector<std::shared_ptr<const LearnerAlgorithmKind>>& kinds() const { return kinds_; }

 private:
  std::vector<std::shared_ptr<const LearnerAlgorithmKind>> kinds_;
};

// Every algorithm plumb-learner is built with (algorithm_kinds/builtin_algorithm_kinds.cc).
const LearnerAlgorithmRegistry& BuiltinLearnerAlgorithms();

// The builtin kind of `algorithm`; errors as Find's.
absl::StatusOr<const LearnerAlgorithmKind*> LearnerAlgorithmOf(Algorithm algorithm);

}  // namespace plumb::learner

#endif  // PLUMB_COMMON_API_LEARNER_ALGORITHM_KIND_H_
