// The learner algorithm kinds plumb-learner is built with, one file each in this folder (the
// three critic-free kinds share critic_free_kinds.cc). BuiltinLearnerAlgorithms() registers them.
#ifndef PLUMB_COMMON_API_ALGORITHM_KINDS_BUILTIN_ALGORITHM_KINDS_H_
#define PLUMB_COMMON_API_ALGORITHM_KINDS_BUILTIN_ALGORITHM_KINDS_H_

#include "common/api/learner_algorithm_kind.h"

namespace plumb::learner {

LearnerAlgorithmKind SftAlgorithm();                // token-mean cross-entropy on completions
LearnerAlgorithmKind RewardModelAlgorithm();        // Bradley-Terry on pairs or ranked groups
LearnerAlgorithmKind PpoAlgorithm();                // critic + GAE + clipped surrogate
LearnerAlgorithmKind GrpoAlgorithm();               // group-normalised advantages
LearnerAlgorithmKind RlooAlgorithm();               // leave-one-out advantages
LearnerAlgorithmKind ReinforceAlgorithm();          // reward minus a baseline
LearnerAlgorithmKind RejectionSamplingAlgorithm();  // SFT on the best of each prompt group
LearnerAlgorithmKind DpoAlgorithm();                // DPO / IPO / cDPO (+ the RPO NLL term)
LearnerAlgorithmKind KtoAlgorithm();                // unpaired desirable / undesirable examples
LearnerAlgorithmKind OrpoAlgorithm();               // NLL + odds-ratio term, no reference
LearnerAlgorithmKind SimpoAlgorithm();              // length-normalised margin, no reference
LearnerAlgorithmKind RrhfAlgorithm();               // ranking loss + SFT on the best response

}  // namespace plumb::learner

#endif  // PLUMB_COMMON_API_ALGORITHM_KINDS_BUILTIN_ALGORITHM_KINDS_H_
