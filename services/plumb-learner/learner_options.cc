#include "services/plumb-learner/learner_options.h"

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/plumb-learner/learner_limits.h"

namespace plumb::learner {
namespace {

absl::Status Field(const std::string& name, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat("config.", name, ": ", problem));
}

absl::Status InRange(const std::string& name, int64_t value, int64_t min, int64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return Field(name, absl::StrCat("must be in [", min, ", ", max, "], got ", value));
}

bool IsOnPolicy(Algorithm a) {
  return a == Algorithm::kPpo || a == Algorithm::kGrpo || a == Algorithm::kRloo ||
         a == Algorithm::kReinforce || a == Algorithm::kRejectionSamplingSft;
}

// The TrainingConfig oneof that holds the critic-free options of `a`.
const char* CriticFreeName(Algorithm a) {
  switch (a) {
    case Algorithm::kGrpo:
      return "grpo";
    case Algorithm::kRloo:
      return "rloo";
    default:
      return "reinforce";
  }
}

absl::Status ValidateSizes(const SessionOptions& o) {
  switch (o.algorithm) {
    case Algorithm::kPpo:
      RETURN_IF_ERROR(InRange("ppo.epochs", o.ppo.epochs, 1, kMaxEpochs));
      RETURN_IF_ERROR(InRange("ppo.minibatch_size", o.ppo.minibatch_size, 0, kMaxBatchItems));
      RETURN_IF_ERROR(InRange("ppo.kl.adaptive.horizon", o.ppo.kl_horizon, 1, kMaxKlHorizon));
      break;
    case Algorithm::kGrpo:
    case Algorithm::kRloo:
    case Algorithm::kReinforce: {
      const std::string name = CriticFreeName(o.algorithm);
      RETURN_IF_ERROR(InRange(name + ".epochs", o.critic_free.epochs, 1, kMaxEpochs));
      RETURN_IF_ERROR(
          InRange(name + ".minibatch_size", o.critic_free.minibatch_size, 0, kMaxBatchItems));
      break;
    }
    case Algorithm::kRejectionSamplingSft:
      RETURN_IF_ERROR(InRange("rejection_sampling.top_n_per_prompt", o.rejection_sampling.top_n,
                              1, kMaxTopN));
      break;
    default:
      break;
  }
  RETURN_IF_ERROR(InRange("optimizer.gradient_accumulation_steps", o.gradient_accumulation_steps,
                          1, kMaxGradientAccumulationSteps));
  if (o.gradient_accumulation_steps > 1 && IsOnPolicy(o.algorithm)) {
    return Field("optimizer.gradient_accumulation_steps",
                 "must be 0 or 1 for on-policy algorithms (they take one step per minibatch)");
  }
  RETURN_IF_ERROR(
      InRange("optimizer.warmup_steps", o.schedule.warmup_steps, 0, kMaxScheduleSteps));
  RETURN_IF_ERROR(InRange("optimizer.total_steps", o.total_steps, 0, kMaxScheduleSteps));
  if (o.schedule.kind != "constant" && o.total_steps <= o.schedule.warmup_steps) {
    return Field("optimizer.total_steps", "must be > warmup_steps for a decaying schedule");
  }
  RETURN_IF_ERROR(InRange("micro_batch_size", o.micro_batch_size, 0, kMaxBatchItems));
  RETURN_IF_ERROR(InRange("max_sequence_length", o.max_sequence_length, 0, kMaxSequenceLength));
  if (o.lora.has_value()) {
    RETURN_IF_ERROR(InRange("lora.rank", o.lora->rank, 1, kMaxLoraRank));
    if (o.lora->target_modules.size() > static_cast<size_t>(kMaxLoraTargets)) {
      return Field("lora.target_modules",
                   absl::StrCat(o.lora->target_modules.size(), " entries; at most ",
                                kMaxLoraTargets));
    }
    for (const std::string& m : o.lora->target_modules) {
      if (m.empty() || m.size() > kMaxIdBytes) {
        return Field("lora.target_modules",
                     absl::StrCat("each entry must be 1..", kMaxIdBytes, " bytes"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SessionOptions::Validate() const { return ValidateSizes(*this); }

}  // namespace plumb::learner
