// The objective kinds plumb-scorer is built with. A new kind is its own file (see
// objective_kind.h) plus one line in the list below, whose order is the order configuration
// errors list the kinds in.
#include <cstdio>
#include <cstdlib>

#include "services/plumb-scorer/afinn_objective.h"
#include "services/plumb-scorer/lm_judge_objective.h"
#include "services/plumb-scorer/objective_kind.h"
#include "services/plumb-scorer/reward_model_objective.h"
#include "services/plumb-scorer/rule_objectives.h"

namespace plumb::scorer {

const ObjectiveKindRegistry& BuiltinObjectiveKinds() {
  static const ObjectiveKindRegistry* const kinds = [] {
    auto* registry = new ObjectiveKindRegistry();
    for (std::shared_ptr<const ScoringObjectiveKind> kind : {
             RewardModelObjectiveKind(),
             AfinnObjectiveKind(),
             LengthObjectiveKind(),
             FormatObjectiveKind(),
             LmJudgeObjectiveKind(),
         }) {
      // Only a programming error (two kinds of one name) fails here; every scorer test sees it.
      if (absl::Status added = registry->Add(kind); !added.ok()) {
        std::fprintf(stderr, "plumb-scorer: %s\n", std::string(added.message()).c_str());
        std::abort();
      }
    }
    return registry;
  }();
  return *kinds;
}

}  // namespace plumb::scorer
