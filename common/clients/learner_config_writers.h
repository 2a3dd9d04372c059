// Internal to plumb_grpc_clients: the writers of TrainingConfig's algorithm sections that live
// in their own file (learner_rl_config_writers.cc), and the error they share.
#ifndef PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_WRITERS_H_
#define PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_WRITERS_H_

#include <string>

#include "absl/status/status.h"
#include "common/api/learner_options.h"
#include "plumb/v1/learner.pb.h"

namespace plumb::clients::internal {

// INVALID_ARGUMENT "options.<option>: <why> (plumb.v1.TrainingConfig cannot carry it)".
absl::Status Inexpressible(const std::string& option, const std::string& why);

// Each sets the TrainingConfig's algorithm and writes its section.
absl::Status Ppo(const learner::SessionOptions& o, v1::TrainingConfig* c);
absl::Status Grpo(const learner::SessionOptions& o, v1::TrainingConfig* c);
absl::Status Rloo(const learner::SessionOptions& o, v1::TrainingConfig* c);
absl::Status Reinforce(const learner::SessionOptions& o, v1::TrainingConfig* c);

}  // namespace plumb::clients::internal

#endif  // PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_WRITERS_H_
