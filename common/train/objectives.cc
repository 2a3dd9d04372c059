#include "common/train/objectives.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/algorithms/orpo.h"
#include "common/status/status_macros.h"
#include "common/train/objective_factories.h"

namespace plumb::train {

const std::vector<std::string>& ObjectiveKinds() {
  static const auto* kinds =
      new std::vector<std::string>{"sft", "reward_model", "dpo", "kto", "orpo", "simpo", "rrhf"};
  return *kinds;
}

bool NeedsReference(const ObjectiveOptions& options) {
  return (options.kind == "dpo" && !options.dpo.reference_free) || options.kind == "kto";
}

absl::StatusOr<std::unique_ptr<TrainingObjective>> MakeObjective(const ObjectiveOptions& options,
                                                                 ObjectiveModels models,
                                                                 const ExampleEncoder* encoder) {
  if (models.policy == nullptr || encoder == nullptr) {
    return absl::InvalidArgumentError("an objective needs a policy model and an encoder");
  }
  if (NeedsReference(options) && models.reference == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("kind '", options.kind, "' needs a frozen reference model"));
  }
  const std::string& kind = options.kind;
  if (kind == "sft") return MakeSftObjective(options.sft, models, encoder);
  if (kind == "reward_model") {
    if (models.policy->config().num_reward_outputs <= options.reward_model.output_index) {
      return absl::InvalidArgumentError(
          absl::StrCat("reward_model.output_index ", options.reward_model.output_index,
                       " needs a reward head with more outputs; the model has ",
                       models.policy->config().num_reward_outputs, " (set model.reward_outputs)"));
    }
    return MakeRewardModelObjective(options.reward_model, models, encoder);
  }
  if (kind == "dpo") {
    RETURN_IF_ERROR(algorithms::ValidateDpoOptions(options.dpo));
    return MakePairObjective(options, models, encoder);
  }
  if (kind == "orpo") {
    RETURN_IF_ERROR(algorithms::ValidateOrpoBeta(options.orpo_beta));
    return MakePairObjective(options, models, encoder);
  }
  if (kind == "simpo") {
    RETURN_IF_ERROR(algorithms::ValidateSimpoOptions(options.simpo));
    return MakePairObjective(options, models, encoder);
  }
  if (kind == "kto") {
    RETURN_IF_ERROR(algorithms::ValidateKtoOptions(options.kto));
    return MakeKtoObjective(options, models, encoder);
  }
  if (kind == "rrhf") {
    RETURN_IF_ERROR(algorithms::ValidateRrhfOptions(options.rrhf));
    return MakeRrhfObjective(options, models, encoder);
  }
  return absl::InvalidArgumentError(absl::StrCat("kind '", kind, "' is unknown; expected one of ",
                                                 absl::StrJoin(ObjectiveKinds(), ", ")));
}

}  // namespace plumb::train
