#include "common/rpc/raw_stream.h"

#include <grpcpp/impl/codegen/sync_stream.h>

namespace plumb::rpc {

std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> StartRawClientStream(
    const std::shared_ptr<grpc::Channel>& channel, const char* method, grpc::ClientContext* context,
    grpc::ByteBuffer* response) {
  // The same factory generated stubs use, instantiated for ByteBuffer (no serialisation).
  return std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>>(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
          channel.get(),
          grpc::internal::RpcMethod(method, grpc::internal::RpcMethod::CLIENT_STREAMING), context,
          response));
}

}  // namespace plumb::rpc
