#include "tests/support/echo_service.h"

#include <ATen/ATen.h>

#include <thread>

#include "common/rpc/grpc_status.h"
#include "common/tensor/tensor_codec.h"

namespace plumb::testing {

grpc::Status EchoServiceImpl::Echo(grpc::ServerContext* context,
                                   const v1::testing::EchoRequest* request,
                                   v1::testing::EchoResponse* response) {
  int attempt = 1;
  if (!request->request_key().empty()) {
    absl::MutexLock lock(&mu_);
    attempt = ++attempts_[request->request_key()];
  }
  if (attempt <= request->fail_first_n()) {
    const auto code = request->fail_code() != 0
                          ? static_cast<grpc::StatusCode>(request->fail_code())
                          : grpc::StatusCode::UNAVAILABLE;
    return grpc::Status(code, "attempt " + std::to_string(attempt) + " fails on purpose");
  }
  active_echo_calls_.fetch_add(1);
  struct Leave {
    std::atomic<int>* counter;
    ~Leave() { counter->fetch_sub(1); }
  } leave{&active_echo_calls_};
  const absl::Time until = absl::Now() + absl::Milliseconds(request->sleep_ms());
  while (absl::Now() < until) {
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  response->set_message(request->message());
  response->set_payload(request->payload());
  response->set_attempt(attempt);
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth != nullptr) {
    for (const grpc::string_ref& identity : auth->GetPeerIdentity()) {
      response->set_peer_identity(std::string(identity.data(), identity.size()));
    }
  }
  return grpc::Status::OK;
}

grpc::Status EchoServiceImpl::UploadTensor(grpc::ServerContext* /*context*/,
                                           grpc::ServerReader<v1::TensorChunk>* reader,
                                           v1::testing::UploadTensorResponse* response) {
  at::Tensor staging;
  {
    absl::MutexLock lock(&mu_);
    staging = std::move(staging_);
  }
  tensor::TensorAssembler assembler(tensor::AssemblerOptions{
      .destination = [&staging](const std::string&, c10::ScalarType dtype,
                                at::IntArrayRef shape) -> absl::StatusOr<at::Tensor> {
        if (staging.defined() && staging.scalar_type() == dtype && staging.sizes() == shape) {
          return staging;
        }
        return at::empty(shape, at::TensorOptions().dtype(dtype));
      }});
  v1::TensorChunk chunk;
  uint64_t chunks = 0;
  while (reader->Read(&chunk)) {
    ++chunks;
    absl::StatusOr<std::optional<tensor::NamedTensor>> added = assembler.Add(tensor::ViewOf(chunk));
    if (!added.ok()) return rpc::ToGrpcStatus(added.status());
    if (!added->has_value()) continue;
    const at::Tensor& t = (*added)->tensor;
    response->set_name((*added)->name);
    response->clear_shape();
    for (int64_t dim : t.sizes()) response->add_shape(dim);
    response->set_dtype(tensor::ToWireDType(t.scalar_type()).value());
    response->set_total_bytes(t.numel() * t.element_size());
    response->set_checksum(tensor::Checksum(t.data_ptr(), t.numel() * t.element_size()));
    absl::MutexLock lock(&mu_);
    staging_ = t;
  }
  if (absl::Status status = assembler.Finish(); !status.ok()) return rpc::ToGrpcStatus(status);
  response->set_chunks(chunks);
  return grpc::Status::OK;
}

grpc::Status EchoServiceImpl::EchoTensor(
    grpc::ServerContext* /*context*/,
    grpc::ServerReaderWriter<v1::TensorChunk, v1::TensorChunk>* stream) {
  tensor::TensorAssembler assembler;
  v1::TensorChunk chunk;
  while (stream->Read(&chunk)) {
    absl::StatusOr<std::optional<tensor::NamedTensor>> added = assembler.Add(tensor::ViewOf(chunk));
    if (!added.ok()) return rpc::ToGrpcStatus(added.status());
    if (!added->has_value()) continue;
    absl::Status sent =
        tensor::EncodeTensor((*added)->name, (*added)->tensor,
                             [stream](const v1::TensorChunk& out) { return stream->Write(out); });
    if (!sent.ok()) return rpc::ToGrpcStatus(sent);
  }
  return rpc::ToGrpcStatus(assembler.Finish());
}

}  // namespace plumb::testing
