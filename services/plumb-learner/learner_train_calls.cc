// LearnerCore's Train methods: each claims the session, checks its batch against the model and
// the documented limits (nothing is computed for a bad batch), then runs the update through
// RunUpdate, which installs the cancellation predicate and cleans up after a failure.
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/api/learner_limits.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "common/status/torch_status.h"
#include "services/plumb-learner/learner_core.h"
#include "services/plumb-learner/learner_session.h"

namespace plumb::learner {

namespace {

// Claims the session for one Train call; ABORTED when another one runs.
class TrainingClaim {
 public:
  explicit TrainingClaim(std::atomic<bool>* flag) : flag_(flag) {
    bool expected = false;
    owned_ = flag_->compare_exchange_strong(expected, true);
  }
  ~TrainingClaim() {
    if (owned_) flag_->store(false);
  }
  bool owned() const { return owned_; }

 private:
  std::atomic<bool>* flag_;
  bool owned_ = false;
};

}  // namespace

absl::StatusOr<LearnerCore::TrainCall> LearnerCore::OpenTrainCall(const std::string& id,
                                                                  TrainBatchKind batch,
                                                                  size_t batch_size) {
  ASSIGN_OR_RETURN(Session * s, Find(id));
  ASSIGN_OR_RETURN(const LearnerAlgorithmKind* kind, LearnerAlgorithmOf(s->options.algorithm));
  const char* batch_kind = TrainBatchKindName(batch);
  if (!kind->Takes(batch)) {
    return absl::InvalidArgumentError(
        absl::StrCat("this session's algorithm does not train on ", batch_kind, " batches"));
  }
  if (batch_size == 0) {
    return absl::InvalidArgumentError(absl::StrCat("an empty ", batch_kind, " batch"));
  }
  if (batch_size > static_cast<size_t>(kMaxBatchItems)) {
    return absl::InvalidArgumentError(absl::StrCat("a ", batch_kind, " batch of ", batch_size,
                                                   " items; at most ", kMaxBatchItems));
  }
  return TrainCall{s, kind};
}

absl::StatusOr<TrainStats> LearnerCore::RunUpdate(
    Session* s, const CancelPredicate& cancelled,
    const std::function<absl::StatusOr<TrainStats>()>& update) {
  s->cancelled = &cancelled;
  s->nonfinite.clear();
  s->touched = false;
  s->call_start_steps = s->steps;
  s->call_start_version = s->version;
  s->activity = "the Train call";
  const std::optional<double> baseline = s->baseline;
  // The learner's model boundary for Train: whatever the update throws becomes a Status here.
  absl::StatusOr<TrainStats> stats = TorchBoundary(s->activity, update);
  s->cancelled = nullptr;
  if (!stats.ok()) {
    // Nothing half done may leak into the next call: a moved baseline, its gradients, or an
    // accumulation window that now holds part of this call. (A call refused before any
    // backward pass leaves the window of earlier calls alone.)
    s->baseline = baseline;
    if (s->touched) {
      s->ZeroGrad();
      s->accumulated_calls = 0;
    }
    s->Report();
  }
  return stats;
}

absl::StatusOr<TrainStats> LearnerCore::TrainExperience(const std::string& id,
                                                        const std::vector<Experience>& batch,
                                                        double temperature,
                                                        const CancelPredicate& cancelled) {
  TrainingClaim claim(&training_);
  if (!claim.owned()) return absl::AbortedError("another Train call is running");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const TrainCall call,
                   OpenTrainCall(id, TrainBatchKind::kExperience, batch.size()));
  Session* s = call.session;
  const SessionOptions& o = s->options;
  const model::ModelConfig& config = s->policy->config();
  const bool needs_reference = call.kind->NeedsReference(o);
  std::map<std::string, int> group_sizes;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Experience& e = batch[i];
    const std::string what = absl::StrCat("experience ", i);
    RETURN_IF_ERROR(CheckSequence(config, o.max_sequence_length, what, e.prompt, e.response));
    RETURN_IF_ERROR(CheckValue(what + ": the reward", e.reward, -kMaxAbsReward, kMaxAbsReward));
    if (!e.logprobs.empty() && e.logprobs.size() != e.response.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": ", e.logprobs.size(), " log-probs for ", e.response.size(), " response tokens"));
    }
    RETURN_IF_ERROR(CheckLogProbs(what + ": log-probs", e.logprobs));
    if (needs_reference && e.ref_logprobs.size() != e.response.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": ", e.ref_logprobs.size(), " reference log-probs for ",
                       e.response.size(), " response tokens (the KL penalty needs one per token)"));
    }
    RETURN_IF_ERROR(CheckLogProbs(what + ": reference log-probs", e.ref_logprobs));
    if (o.max_policy_lag.has_value() && e.policy_version + *o.max_policy_lag < s->version) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, ": made by policy version ", e.policy_version, ", more than max_policy_lag ",
          *o.max_policy_lag, " behind the session's version ", s->version));
    }
    ++group_sizes[e.group];
  }
  // Group baselines need a second sample of every prompt.
  if (call.kind->rollout_update == RolloutUpdate::kCriticFree &&
      call.kind->advantage != SequenceAdvantage::kBaseline) {
    for (const auto& [group, size] : group_sizes) {
      if (size < 2) {
        return absl::InvalidArgumentError(absl::StrCat(
            "prompt group ", Echo(group, kDefaultEchoBytes, '\''), " has ", size,
            " sample; GRPO and RLOO need at least 2 samples of each prompt in the batch"));
      }
    }
  }
  RETURN_IF_ERROR(
      CheckValue("the sampling temperature", temperature, kMinTemperature, kMaxTemperature));
  return RunUpdate(s, cancelled, [&]() -> absl::StatusOr<TrainStats> {
    switch (call.kind->rollout_update) {
      case RolloutUpdate::kPpo:
        return s->Ppo(batch, temperature);
      case RolloutUpdate::kCriticFree:
        return s->CriticFree(batch, temperature);
      case RolloutUpdate::kBestOfGroupSft:
        return s->RejectionSampling(batch);
      case RolloutUpdate::kNone:
        break;
    }
    return absl::InternalError("an experience batch reached a kind without a rollout update");
  });
}

absl::StatusOr<TrainStats> LearnerCore::TrainPreference(const std::string& id,
                                                        const std::vector<PreferenceExample>& batch,
                                                        const CancelPredicate& cancelled) {
  TrainingClaim claim(&training_);
  if (!claim.owned()) return absl::AbortedError("another Train call is running");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const TrainCall call,
                   OpenTrainCall(id, TrainBatchKind::kPreference, batch.size()));
  Session* s = call.session;
  const SessionOptions& o = s->options;
  const model::ModelConfig& config = s->policy->config();
  const bool needs_reference = call.kind->NeedsReference(o);
  for (const PreferenceExample& p : batch) {
    const std::string what = absl::StrCat("pair ", Echo(p.id, kDefaultEchoBytes, '\''));
    RETURN_IF_ERROR(CheckSequence(config, o.max_sequence_length, what, p.prompt, p.chosen));
    RETURN_IF_ERROR(CheckSequence(config, o.max_sequence_length, what, p.prompt, p.rejected));
    if (needs_reference && (!p.ref_chosen.has_value() || !p.ref_rejected.has_value())) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": reference log-probs are required (or set reference_free)"));
    }
    if (p.ref_chosen) {
      RETURN_IF_ERROR(CheckLogProbSum(what + ": reference_chosen_logprob", *p.ref_chosen));
    }
    if (p.ref_rejected) {
      RETURN_IF_ERROR(CheckLogProbSum(what + ": reference_rejected_logprob", *p.ref_rejected));
    }
    if (p.margin) RETURN_IF_ERROR(CheckValue(what + ": the margin", *p.margin, 0, kMaxMargin));
    if (p.probability) {
      RETURN_IF_ERROR(CheckValue(what + ": the preference_probability", *p.probability, 0, 1));
    }
  }
  return RunUpdate(s, cancelled, [&] { return s->Pairs(batch); });
}

absl::StatusOr<TrainStats> LearnerCore::TrainSft(const std::string& id,
                                                 const std::vector<SftExample>& batch,
                                                 const CancelPredicate& cancelled) {
  TrainingClaim claim(&training_);
  if (!claim.owned()) return absl::AbortedError("another Train call is running");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const TrainCall call, OpenTrainCall(id, TrainBatchKind::kSft, batch.size()));
  Session* s = call.session;
  return RunUpdate(s, cancelled, [&] { return s->Sft(batch); });
}

absl::StatusOr<TrainStats> LearnerCore::TrainUnpaired(const std::string& id,
                                                      const std::vector<UnpairedExample>& batch,
                                                      const CancelPredicate& cancelled) {
  TrainingClaim claim(&training_);
  if (!claim.owned()) return absl::AbortedError("another Train call is running");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const TrainCall call,
                   OpenTrainCall(id, TrainBatchKind::kUnpaired, batch.size()));
  Session* s = call.session;
  const SessionOptions& o = s->options;
  const model::ModelConfig& config = s->policy->config();
  const bool mismatched = o.kto_reference_point == KtoReferencePoint::kBatchMismatched;
  if (mismatched && batch.size() < 2) {
    return absl::InvalidArgumentError(
        "the mismatched-pairs reference point needs at least 2 examples in the batch");
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    const UnpairedExample& e = batch[i];
    const std::string what = absl::StrCat("example ", Echo(e.id, kDefaultEchoBytes, '\''));
    RETURN_IF_ERROR(CheckSequence(config, o.max_sequence_length, what, e.prompt, e.completion));
    if (!e.ref_logprob.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": reference_logprob is required"));
    }
    RETURN_IF_ERROR(CheckLogProbSum(what + ": reference_logprob", *e.ref_logprob));
    if (mismatched) {
      if (!e.ref_kl_logprob.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": reference_kl_logprob is required with the mismatched-pairs reference point"));
      }
      RETURN_IF_ERROR(CheckLogProbSum(what + ": reference_kl_logprob", *e.ref_kl_logprob));
      RETURN_IF_ERROR(CheckSequence(config, o.max_sequence_length,
                                    what + " (with the next example's completion)", e.prompt,
                                    batch[(i + 1) % batch.size()].completion));
    }
  }
  return RunUpdate(s, cancelled, [&] { return s->Kto(batch); });
}

absl::StatusOr<TrainStats> LearnerCore::TrainRanked(const std::string& id,
                                                    const std::vector<RankedGroup>& batch,
                                                    const CancelPredicate& cancelled) {
  TrainingClaim claim(&training_);
  if (!claim.owned()) return absl::AbortedError("another Train call is running");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const TrainCall call, OpenTrainCall(id, TrainBatchKind::kRanked, batch.size()));
  Session* s = call.session;
  const SessionOptions& o = s->options;
  const model::ModelConfig& config = s->policy->config();
  for (const RankedGroup& g : batch) {
    const std::string what = absl::StrCat("group ", Echo(g.id, kDefaultEchoBytes, '\''));
    if (g.responses.size() < 2 || g.responses.size() != g.ranks.size()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": needs at least 2 ranked responses"));
    }
    if (g.responses.size() > static_cast<size_t>(kMaxRankedResponses)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", g.responses.size(),
                                                     " responses; at most ", kMaxRankedResponses));
    }
    std::set<int> distinct(g.ranks.begin(), g.ranks.end());
    if (distinct.size() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": needs at least 2 distinct ranks"));
    }
    for (size_t r = 0; r < g.responses.size(); ++r) {
      RETURN_IF_ERROR(CheckSequence(config, o.max_sequence_length,
                                    absl::StrCat(what, " response ", r), g.prompt, g.responses[r]));
      if (g.ranks[r] < 0) {
        return absl::InvalidArgumentError(absl::StrCat(what, " response ", r, ": rank < 0"));
      }
    }
  }
  return RunUpdate(s, cancelled, [&] { return s->Ranked(batch); });
}

}  // namespace plumb::learner
