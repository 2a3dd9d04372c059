// Internal to plumb_learner_core: the learner's Train batches and session options in the form of
// the shared offline training updates (common/train/offline_updates.h), which hold the maths.
// The caller validates the batch first (learner_train_calls.cc).
//
// Thread safety: plain functions.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_OFFLINE_BATCHES_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_OFFLINE_BATCHES_H_

#include <vector>

#include "common/api/learner_options.h"
#include "common/train/offline_updates.h"
#include "services/plumb-learner/learner_core.h"

namespace plumb::learner {

// The update options of a session (kind: its algorithm kind's objective; DPO / KTO / ORPO /
// SimPO / RRHF settings, the RPO and RRHF SFT weights, the reward model's margin settings on
// reward output 0).
train::ObjectiveOptions ObjectiveOptionsOf(const SessionOptions& options);
// The session's algorithm kind trains the reward head (LearnerAlgorithmKind::TrainsRewardHead).
bool TrainsRewardHead(const SessionOptions& options);

// An empty prompt is allowed: the completion's first token is then the prompt, not predicted.
std::vector<train::SftItem> SftItems(const std::vector<SftExample>& batch);
std::vector<train::PairItem> PairItems(const std::vector<PreferenceExample>& batch);
// KTO: example i's mismatched pair is its prompt with example (i + 1) mod n's completion.
std::vector<train::UnpairedItem> UnpairedItems(const std::vector<UnpairedExample>& batch);
// Reward model on pairs: each a group of two (chosen ranked first) with its margin and its
// preference probability.
std::vector<train::RankedItem> RankedItems(const std::vector<PreferenceExample>& batch);
std::vector<train::RankedItem> RankedItems(const std::vector<RankedGroup>& batch);

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_OFFLINE_BATCHES_H_
