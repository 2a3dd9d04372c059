// The gRPC implementations of the four client interfaces, on rpc::CreateChannel: TLS or mutual
// TLS, a bearer token, retries of UNAVAILABLE and a default deadline, all from ChannelOptions
// (rpc::ParseChannelOptions reads them from a YAML client section). Each client converts its
// domain types to the service's protos and back; nothing else sees the protos.
//
// Thread safety: the clients are thread-safe (one channel each, shared by every call).
#ifndef PLUMB_COMMON_CLIENTS_GRPC_CLIENTS_H_
#define PLUMB_COMMON_CLIENTS_GRPC_CLIENTS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/clients/generator_client.h"
#include "common/clients/learner_client.h"
#include "common/clients/reference_client.h"
#include "common/clients/scorer_client.h"
#include "common/rpc/channel_factory.h"

namespace plumb::clients {

// INVALID_ARGUMENT for options CreateChannel refuses. No connection is made until the first call.
absl::StatusOr<std::unique_ptr<GeneratorClient>> NewGrpcGeneratorClient(
    const rpc::ChannelOptions& options);
absl::StatusOr<std::unique_ptr<ScorerClient>> NewGrpcScorerClient(
    const rpc::ChannelOptions& options);
absl::StatusOr<std::unique_ptr<ReferenceClient>> NewGrpcReferenceClient(
    const rpc::ChannelOptions& options);
absl::StatusOr<std::unique_ptr<LearnerClient>> NewGrpcLearnerClient(
    const rpc::ChannelOptions& options);

}  // namespace plumb::clients

#endif  // PLUMB_COMMON_CLIENTS_GRPC_CLIENTS_H_
