// The one place where absl::Status and grpc::Status convert into each other. Every absl status
// code is a gRPC code with the same number, so the conversion keeps code and message.
#ifndef PLUMB_COMMON_RPC_GRPC_STATUS_H_
#define PLUMB_COMMON_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace plumb::rpc {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace plumb::rpc

#endif  // PLUMB_COMMON_RPC_GRPC_STATUS_H_
