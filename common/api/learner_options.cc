#include "common/api/learner_options.h"

#include "absl/strings/str_cat.h"
#include "common/api/learner_algorithm_kind.h"
#include "common/api/learner_option_checks.h"
#include "common/status/status_macros.h"

namespace plumb::learner {
namespace {

using option_checks::Field;
using option_checks::InRange;
using option_checks::Real;

// The size-like options every algorithm shares; `kind` is the session's.
absl::Status ValidateSizes(const SessionOptions& o, const LearnerAlgorithmKind& kind) {
  RETURN_IF_ERROR(InRange("optimizer.gradient_accumulation_steps", o.gradient_accumulation_steps, 1,
                          kMaxGradientAccumulationSteps));
  if (o.gradient_accumulation_steps > 1 && kind.on_policy) {
    return Field("optimizer.gradient_accumulation_steps",
                 "must be 0 or 1 for on-policy algorithms (they take one step per minibatch)");
  }
  RETURN_IF_ERROR(InRange("optimizer.warmup_steps", o.schedule.warmup_steps, 0, kMaxScheduleSteps));
  RETURN_IF_ERROR(InRange("optimizer.total_steps", o.total_steps, 0, kMaxScheduleSteps));
  if (o.schedule.kind != "constant" && o.total_steps <= o.schedule.warmup_steps) {
    return Field("optimizer.total_steps", "must be > warmup_steps for a decaying schedule");
  }
  RETURN_IF_ERROR(InRange("micro_batch_size", o.micro_batch_size, 0, kMaxBatchItems));
  RETURN_IF_ERROR(InRange("max_sequence_length", o.max_sequence_length, 0, kMaxSequenceLength));
  if (o.lora.has_value()) {
    RETURN_IF_ERROR(InRange("lora.rank", o.lora->rank, 1, kMaxLoraRank));
    if (o.lora->target_modules.size() > static_cast<size_t>(kMaxLoraTargets)) {
      return Field("lora.target_modules", absl::StrCat(o.lora->target_modules.size(),
                                                       " entries; at most ", kMaxLoraTargets));
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

absl::Status ValidateOptimizer(const SessionOptions& o) {
  RETURN_IF_ERROR(Real("optimizer.learning_rate", o.optimizer.lr, option_checks::kPositive));
  RETURN_IF_ERROR(Real("optimizer.beta1", o.optimizer.beta1, option_checks::kHalfOpenUnit));
  RETURN_IF_ERROR(Real("optimizer.beta2", o.optimizer.beta2, option_checks::kHalfOpenUnit));
  RETURN_IF_ERROR(Real("optimizer.epsilon", o.optimizer.eps, {0, 1, true}));
  RETURN_IF_ERROR(
      Real("optimizer.weight_decay", o.optimizer.weight_decay, option_checks::kNonNegative));
  RETURN_IF_ERROR(Real("optimizer.min_lr_ratio", o.schedule.min_lr_ratio, option_checks::kUnit));
  RETURN_IF_ERROR(Real("optimizer.max_grad_norm", o.max_grad_norm, option_checks::kNonNegative));
  if (o.schedule.kind != "constant" && o.schedule.kind != "linear" && o.schedule.kind != "cosine") {
    return Field("optimizer.schedule", "must be constant, linear or cosine");
  }
  if (o.lora) RETURN_IF_ERROR(Real("lora.alpha", o.lora->alpha, option_checks::kPositive));
  return absl::OkStatus();
}

}  // namespace

SessionOptions SessionOptions::Defaults(Algorithm algorithm) {
  return Defaults(algorithm, BuiltinLearnerAlgorithms());
}

SessionOptions SessionOptions::Defaults(Algorithm algorithm,
                                        const LearnerAlgorithmRegistry& kinds) {
  SessionOptions o;
  o.algorithm = algorithm;
  absl::StatusOr<const LearnerAlgorithmKind*> kind = kinds.Find(algorithm);
  if (kind.ok() && (*kind)->defaults) (*kind)->defaults(o);
  return o;
}

absl::Status SessionOptions::Validate() const { return Validate(BuiltinLearnerAlgorithms()); }

absl::Status SessionOptions::Validate(const LearnerAlgorithmRegistry& kinds) const {
  ASSIGN_OR_RETURN(const LearnerAlgorithmKind* kind, kinds.Find(algorithm));
  if (kind->validate) RETURN_IF_ERROR(kind->validate(*this));
  RETURN_IF_ERROR(ValidateSizes(*this, *kind));
  return ValidateOptimizer(*this);
}

}  // namespace plumb::learner
