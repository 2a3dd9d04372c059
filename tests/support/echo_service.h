// plumb.v1.testing.EchoService: a small real service used to test the common server layer (health,
// reflection, TLS, tokens, limits, retries, drain on SIGTERM) and the tensor codec over real
// sockets. Not part of any product binary.
//
// Thread safety: handlers run on gRPC's sync-server threads; shared state is behind mu_.
#ifndef PLUMB_TESTS_SUPPORT_ECHO_SERVICE_H_
#define PLUMB_TESTS_SUPPORT_ECHO_SERVICE_H_

#include <atomic>
#include <map>
#include <string>

#include <ATen/core/Tensor.h>

#include "absl/synchronization/mutex.h"
#include "plumb/v1/testing/echo.grpc.pb.h"

namespace plumb::testing {

class EchoServiceImpl final : public v1::testing::EchoService::Service {
 public:
  // Echo: waits sleep_ms (in slices, giving up early if the call is cancelled), fails the first
  // fail_first_n attempts per request_key with fail_code (default UNAVAILABLE), then echoes message
  // and payload.
  grpc::Status Echo(grpc::ServerContext* context, const v1::testing::EchoRequest* request,
                    v1::testing::EchoResponse* response) override;

  // Echo calls currently inside the handler (tests wait for a call to be in flight).
  int active_echo_calls() const { return active_echo_calls_.load(); }

  // Reassembles the streamed tensor and reports what arrived. Like a weight receiver, it writes
  // into a staging tensor kept from the previous upload when dtype and shape match.
  grpc::Status UploadTensor(grpc::ServerContext* context,
                            grpc::ServerReader<v1::TensorChunk>* reader,
                            v1::testing::UploadTensorResponse* response) override;

  // Reassembles every tensor of the stream and sends each back, re-chunked.
  grpc::Status EchoTensor(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::TensorChunk, v1::TensorChunk>* stream) override;

 private:
  std::atomic<int> active_echo_calls_{0};
  absl::Mutex mu_;
  std::map<std::string, int> attempts_ ABSL_GUARDED_BY(mu_);
  at::Tensor staging_ ABSL_GUARDED_BY(mu_);  // taken by one upload at a time
};

}  // namespace plumb::testing

#endif  // PLUMB_TESTS_SUPPORT_ECHO_SERVICE_H_
