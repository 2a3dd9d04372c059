// What every gRPC client call shares: a ClientContext with the call's deadline, the channel's
// bearer token and the caller's cancellation wired to TryCancel. Private to common/clients.
#ifndef PLUMB_COMMON_CLIENTS_GRPC_CALL_H_
#define PLUMB_COMMON_CLIENTS_GRPC_CALL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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

// What every gRPC client holds: its channel options and the service's stub.
template <typename Service>
class GrpcStub {
 public:
  GrpcStub(rpc::ChannelOptions options, const std::shared_ptr<grpc::Channel>& channel)
      : options_(std::move(options)), stub_(Service::NewStub(channel)) {}

 protected:
  const rpc::ChannelOptions options_;
  const std::unique_ptr<typename Service::Stub> stub_;
};

// A client of type `Client` on a new channel (INVALID_ARGUMENT for options CreateChannel refuses).
template <typename Client>
absl::StatusOr<std::unique_ptr<Client>> WithChannel(const rpc::ChannelOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::CreateChannel(options);
  if (!channel.ok()) return channel.status();
  return std::make_unique<Client>(options, *channel);
}

}  // namespace plumb::clients::internal

#endif  // PLUMB_COMMON_CLIENTS_GRPC_CALL_H_
