// Readers of TrainingConfig's policy-gradient sections, for SessionOptionsFromProto
// (learner_training_config.cc). Plain functions.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_RL_CONFIG_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_RL_CONFIG_H_

#include "absl/status/status.h"
#include "common/api/learner_options.h"
#include "plumb/v1/learner.pb.h"

namespace plumb::learner::internal {

// INVALID_ARGUMENT "config.ppo.advantage_whitening: ..." for STD_ONLY (PPO whitens with
// MEAN_STD or not at all).
absl::Status ReadPpo(const v1::PpoConfig& p, PpoOptions* o);
void ReadGrpo(const v1::GrpoConfig& p, CriticFreeOptions* o);
void ReadRloo(const v1::RlooConfig& p, CriticFreeOptions* o);
void ReadReinforce(const v1::ReinforceConfig& p, CriticFreeOptions* o);

}  // namespace plumb::learner::internal

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_RL_CONFIG_H_
