// Internal to plumb_learner_config_proto: readers of TrainingConfig's policy-gradient sections
// (learner_rl_config_readers.cc), for SessionOptionsFromProto (learner_config_reader.cc).
#ifndef PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_READERS_H_
#define PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_READERS_H_

#include "absl/status/status.h"
#include "common/api/learner_options.h"
#include "plumb/v1/learner.pb.h"

namespace plumb::clients::internal {

using learner::CriticFreeOptions;
using learner::PpoOptions;

// INVALID_ARGUMENT "config.ppo.advantage_whitening: ..." for STD_ONLY (PPO whitens with
// MEAN_STD or not at all).
absl::Status ReadPpo(const v1::PpoConfig& p, PpoOptions* o);
void ReadGrpo(const v1::GrpoConfig& p, CriticFreeOptions* o);
void ReadRloo(const v1::RlooConfig& p, CriticFreeOptions* o);
void ReadReinforce(const v1::ReinforceConfig& p, CriticFreeOptions* o);

}  // namespace plumb::clients::internal

#endif  // PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_READERS_H_
