// The objectives of the offline trainers (`plumb-train`, and the learner service's sessions):
// SFT, reward model, the DPO family, KTO, ORPO, SimPO and RRHF, each built on the formulas of
// common/algorithms and the model core.
//
// Which examples each accepts:
//   sft            SftExample; a PreferencePair trains on (prompt, chosen)
//   reward_model   PreferencePair (with optional margin and preference probability),
//                  RankedList (all pairs, InstructGPT)
//   dpo, orpo, simpo   PreferencePair, RankedList (expanded to pairs)
//   kto            UnpairedExample
//   rrhf           RankedList, PreferencePair (a list of two)
// Anything else is INVALID_ARGUMENT naming the kind and the example's source line.
//
// Thread safety: the trainer's thread only.
#ifndef PLUMB_COMMON_TRAIN_OBJECTIVES_H_
#define PLUMB_COMMON_TRAIN_OBJECTIVES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/transformer.h"
#include "common/train/example_encoder.h"
#include "common/train/objective.h"
#include "common/train/objective_options.h"

namespace plumb::train {

const std::vector<std::string>& ObjectiveKinds();

// Whether the kind needs a frozen reference model (DPO unless reference-free, KTO).
bool NeedsReference(const ObjectiveOptions& options);

struct ObjectiveModels {
  model::TransformerImpl* policy = nullptr;
  model::TransformerImpl* reference = nullptr;  // frozen; required when NeedsReference
  bool cuda = false;
};

// INVALID_ARGUMENT for an unknown kind, invalid algorithm options or a missing model.
absl::StatusOr<std::unique_ptr<TrainingObjective>> MakeObjective(const ObjectiveOptions& options,
                                                                 ObjectiveModels models,
                                                                 const ExampleEncoder* encoder);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_OBJECTIVES_H_
