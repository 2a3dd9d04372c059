// plumb.v1.Learner messages to the core's types, and the shape checks every request passes
// before any work: repeated fields and strings within their documented bounds
// (learner_limits.h), named by their path in the request ("request.experience.experiences[3].
// rollout.response_token_ids: 2000000 tokens; at most 1048576"). Value ranges are the core's
// business (SessionOptions::Validate, the Train methods); finiteness and enum values are
// rpc::CheckMessageValues'.
//
// Thread safety: plain functions.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_PROTO_CONVERSION_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_PROTO_CONVERSION_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "plumb/v1/learner.pb.h"
#include "services/plumb-learner/learner_core.h"

namespace plumb::learner {

// TrainingConfig -> SessionOptions (and the algorithm table) is
// common/clients/learner_config_proto.h's clients::SessionOptionsFromProto / ProtoAlgorithms.

// Values, enums, then shapes: everything a request must pass before it reaches a core.
absl::Status CheckStartSessionRequest(const v1::StartSessionRequest& request);
absl::Status CheckTrainRequest(const v1::TrainRequest& request);
// Values and the session id's length, for the requests that carry nothing else to bound.
absl::Status CheckSessionRequest(const google::protobuf::Message& request,
                                 const std::string& session_id);

// The sampling temperature of an experience batch: unset or 0 = 1.0.
double TemperatureOf(const v1::ExperienceBatch& batch);

std::vector<Experience> ToExperiences(const v1::ExperienceBatch& batch);
std::vector<PreferenceExample> ToPreferences(const v1::PreferenceBatch& batch);
std::vector<SftExample> ToSftExamples(const v1::SftBatch& batch);
std::vector<UnpairedExample> ToUnpaired(const v1::UnpairedBatch& batch);
std::vector<RankedGroup> ToRankedGroups(const v1::RankedBatch& batch);

// PublishWeights' targets: 1..kMaxPublishTargets, each non-empty, listed once and in `allowed`
// (PERMISSION_DENIED otherwise: weights go only where the operator allowed), and the timeout.
absl::Status CheckPublishTargets(const v1::PublishWeightsRequest& request,
                                 const std::vector<std::string>& allowed);

// The core's statistics as the Train answer carries them.
void StatsToProto(const TrainStats& stats, uint64_t sequence, v1::TrainStats* out);

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_PROTO_CONVERSION_H_
