// What every gRPC client call shares: a ClientContext with the call's deadline, the channel's
// bearer token and the caller's cancellation wired to TryCancel. Private to common/clients.
#ifndef PLUMB_COMMON_CLIENTS_GRPC_CALL_H_
#define PLUMB_COMMON_CLIENTS_GRPC_CALL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "common/clients/call_options.h"
#include "common/rpc/channel_factory.h"
#include "common/rpc/grpc_status.h"

namespace plumb::clients::internal {

class GrpcCall {
 public:
  GrpcCall(const rpc::ChannelOptions& channel, const CallOptions& options)
      : context_(rpc::NewClientContext(channel, options.timeout)),
        scope_(options.cancellation, [context = context_.get()] { context->TryCancel(); }) {}
  grpc::ClientContext* context() { return context_.get(); }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  CancellationScope scope_;
};

// A unary call: `invoke(context)` returns the grpc::Status of stub->Method(context, req, &resp).
template <typename Invoke>
absl::Status Unary(const rpc::ChannelOptions& channel, const CallOptions& options,
                   const Invoke& invoke) {
  if (options.cancelled()) return absl::CancelledError("cancelled before the call");
  GrpcCall call(channel, options);
  return rpc::FromGrpcStatus(invoke(call.context()));
}

}  // namespace plumb::clients::internal

#endif  // PLUMB_COMMON_CLIENTS_GRPC_CALL_H_
