// The learner algorithms plumb-learner is built with. A new algorithm is its own file in this
// folder (see learner_algorithm_kind.h) plus one line in the list below, whose order is the
// order the kinds are listed in.
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace plumb::learner {

const LearnerAlgorithmRegistry& BuiltinLearnerAlgorithms() {
  static const LearnerAlgorithmRegistry* const kinds = [] {
    auto* registry = new LearnerAlgorithmRegistry();
    for (LearnerAlgorithmKind kind : {
             SftAlgorithm(),
             RewardModelAlgorithm(),
             PpoAlgorithm(),
             GrpoAlgorithm(),
             RlooAlgorithm(),
             ReinforceAlgorithm(),
             RejectionSamplingAlgorithm(),
             DpoAlgorithm(),
             KtoAlgorithm(),
             OrpoAlgorithm(),
             SimpoAlgorithm(),
             RrhfAlgorithm(),
         }) {
      // Only a programming error (two kinds of one name) fails here; every learner test sees it.
      if (absl::Status added = registry->Add(std::move(kind)); !added.ok()) {
        std::fprintf(stderr, "plumb learner algorithms: %s\n",
                     std::string(added.message()).c_str());
        std::abort();
      }
    }
    return registry;
  }();
  return *kinds;
}

}  // namespace plumb::learner
