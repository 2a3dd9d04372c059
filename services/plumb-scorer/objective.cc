#include "services/plumb-scorer/objective.h"

#include "absl/strings/str_cat.h"
#include "services/plumb-scorer/reward_model_objective.h"
#include "services/plumb-scorer/text_objective.h"

namespace plumb::scorer {

absl::StatusOr<weights::VersionedModel*> Objective::ModelForWeights() {
  return absl::FailedPreconditionError(absl::StrCat(
      "objective '", name_, "' is not model-backed (kind ", ObjectiveKindName(Describe().kind),
      ") and takes no weights; only reward_model objectives do"));
}

absl::StatusOr<std::unique_ptr<Objective>> CreateObjective(const ObjectiveOptions& options,
                                                           int max_batch_size) {
  switch (options.kind) {
    case ObjectiveKind::kRewardModel:
      return CreateRewardModelObjective(options, max_batch_size);
    case ObjectiveKind::kAfinn:
      return CreateAfinnObjective(options);
    case ObjectiveKind::kLength:
      return CreateLengthObjective(options);
    case ObjectiveKind::kFormat:
      return CreateFormatObjective(options);
  }
  return absl::InvalidArgumentError(absl::StrCat("objective '", options.name, "': unknown kind"));
}

}  // namespace plumb::scorer
