// Client streams of pre-serialised messages (grpc::ByteBuffer): the sending side of zero-copy
// tensor transfer (common/tensor/tensor_wire.h). The server is an ordinary generated service;
// only the client skips protobuf serialisation.
//
//   grpc::ByteBuffer reply;
//   auto writer = StartRawClientStream(channel, "/plumb.v1.Generator/LoadWeights", &ctx, &reply);
//   ... writer->Write(buffer) ...; writer->WritesDone(); grpc::Status s = writer->Finish();
//   ParseReply(reply, &response);
//
// Thread safety: a writer serves one call on one thread.
#ifndef PLUMB_COMMON_RPC_RAW_STREAM_H_
#define PLUMB_COMMON_RPC_RAW_STREAM_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <memory>
#include <string>

#include "absl/status/status.h"

namespace plumb::rpc {

// Starts a client-streaming call of `method` ("/package.Service/Method"), which must have static
// storage (a string literal: gRPC keeps the pointer for the call's lifetime, as generated stubs
// do). The single response lands in *response once Finish() returns OK.
std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> StartRawClientStream(
    const std::shared_ptr<grpc::Channel>& channel, const char* method, grpc::ClientContext* context,
    grpc::ByteBuffer* response);

// Parses a raw response into a generated message; DATA_LOSS when it does not parse.
template <typename Message>
absl::Status ParseReply(grpc::ByteBuffer& reply, Message* message) {
  grpc::Status status = grpc::SerializationTraits<Message>::Deserialize(&reply, message);
  if (status.ok()) return absl::OkStatus();
  return absl::DataLossError("malformed response: " + status.error_message());
}

}  // namespace plumb::rpc

#endif  // PLUMB_COMMON_RPC_RAW_STREAM_H_
