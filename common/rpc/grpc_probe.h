// Generic clients for the two standard services every Plumb server exposes: grpc.health.v1
// (Check) and grpc.reflection.v1alpha (list services). They speak the wire format through
// grpc::GenericStub, so no generated code for those protos is needed (Debian does not ship it).
// Used by tests, readiness waits and plumbctl.
//
// Thread safety: stateless functions; the channel is shared safely.
#ifndef PLUMB_COMMON_RPC_GRPC_PROBE_H_
#define PLUMB_COMMON_RPC_GRPC_PROBE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}

namespace plumb::rpc {

enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// grpc.health.v1.Health/Check for `service` ("" = the whole server). NOT_FOUND when the server
// does not know the service; the RPC's error otherwise.
absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                          const std::string& service, absl::Duration deadline,
                                          const std::string& bearer_token = "");

// Polls CheckHealth until SERVING or until `timeout` has passed (then DEADLINE_EXCEEDED).
absl::Status WaitUntilServing(const std::shared_ptr<grpc::Channel>& channel,
                              absl::Duration timeout);

// The fully qualified names of the services a server lists through reflection.
absl::StatusOr<std::vector<std::string>> ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration deadline);

}  // namespace plumb::rpc

#endif  // PLUMB_COMMON_RPC_GRPC_PROBE_H_
