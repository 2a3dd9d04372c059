// plumb.v1.TrainingConfig <-> learner::SessionOptions, both ways, in one LibTorch-free and
// gRPC-free library (plumb_learner_config_proto) shared by the learner's adapter, the clients
// and the coordinator's job-spec adapter.
#ifndef PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_PROTO_H_
#define PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_PROTO_H_

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/api/learner_options.h"
#include "plumb/v1/learner.pb.h"

namespace plumb::clients {

// learner::SessionOptions -> plumb.v1.TrainingConfig: the inverse of SessionOptionsFromProto,
// with every field written explicitly, so that the learner rebuilds the same options (up to float
// precision on the wire). Options the API cannot express (a DPO loss other than sigmoid / IPO /
// hinge, non-default RRHF or KTO reductions, a device other than the CPU) are INVALID_ARGUMENT
// naming the option.
absl::StatusOr<v1::TrainingConfig> TrainingConfigFromOptions(const learner::SessionOptions& o);

// The session options of a TrainingConfig: SessionOptions::Defaults of its algorithm, then what
// the config sets, validated by SessionOptions::Validate. Bad values are INVALID_ARGUMENT naming
// the field as "config.<path>" (e.g. "config.ppo.epochs: ..."); options the learner does not
// implement are UNIMPLEMENTED naming the field.
absl::StatusOr<learner::SessionOptions> SessionOptionsFromProto(const v1::TrainingConfig& config);

// The TrainingConfig algorithms SessionOptionsFromProto reads, in learner.proto's order, each
// with the algorithm kind it maps to (ALGORITHM_DPO, _IPO and _CDPO are the one DPO kind).
std::vector<std::pair<v1::Algorithm, learner::Algorithm>> ProtoAlgorithms();

}  // namespace plumb::clients

#endif  // PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_PROTO_H_
