// Constructors of the individual objectives; MakeObjective (objectives.h) picks one by kind.
// Internal to common/train.
#ifndef PLUMB_COMMON_TRAIN_OBJECTIVE_FACTORIES_H_
#define PLUMB_COMMON_TRAIN_OBJECTIVE_FACTORIES_H_

#include <memory>

#include "common/train/objectives.h"

namespace plumb::train {

std::unique_ptr<TrainingObjective> MakeSftObjective(const SftOptions& options,
                                                    ObjectiveModels models,
                                                    const ExampleEncoder* encoder);
std::unique_ptr<TrainingObjective> MakeRewardModelObjective(
    const RewardModelObjectiveOptions& options, ObjectiveModels models,
    const ExampleEncoder* encoder);
// dpo, orpo and simpo: objectives on (chosen, rejected) log-probs of the policy.
std::unique_ptr<TrainingObjective> MakePairObjective(const ObjectiveOptions& options,
                                                     ObjectiveModels models,
                                                     const ExampleEncoder* encoder);
std::unique_ptr<TrainingObjective> MakeKtoObjective(const ObjectiveOptions& options,
                                                    ObjectiveModels models,
                                                    const ExampleEncoder* encoder);
std::unique_ptr<TrainingObjective> MakeRrhfObjective(const ObjectiveOptions& options,
                                                     ObjectiveModels models,
                                                     const ExampleEncoder* encoder);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_OBJECTIVE_FACTORIES_H_
