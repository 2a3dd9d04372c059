// Sends a weight set to any model service's LoadWeights (Generator, Reference, RewardScorer
// stubs share the method's shape), as the learner does, for tests and benchmarks. `tamper`, when
// set, may change message `index` before it is written (to test the receiver's checks).
//
// Thread safety: one call per stub at a time.
#ifndef PLUMB_TESTS_SUPPORT_WEIGHT_STREAM_CLIENT_H_
#define PLUMB_TESTS_SUPPORT_WEIGHT_STREAM_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "common/weights/weight_stream_sender.h"

namespace plumb::testing {

template <typename Stub>
grpc::Status SendWeightsTo(Stub& stub, const std::map<std::string, at::Tensor>& tensors,
                           const weights::SendOptions& options,
                           v1::LoadWeightsResponse* response = nullptr,
                           const std::function<void(v1::WeightChunk*, int)>& tamper = {}) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::LoadWeightsResponse ignored;
  std::unique_ptr<grpc::ClientWriter<v1::WeightChunk>> writer =
      stub.LoadWeights(&context, response != nullptr ? response : &ignored);
  int index = 0;
  (void)weights::SendWeightStream(tensors, options, [&](const v1::WeightChunk& chunk) {
    if (!tamper) return writer->Write(chunk);
    v1::WeightChunk copy = chunk;
    tamper(&copy, index++);
    return writer->Write(copy);
  });
  writer->WritesDone();
  return writer->Finish();
}

}  // namespace plumb::testing

#endif  // PLUMB_TESTS_SUPPORT_WEIGHT_STREAM_CLIENT_H_
