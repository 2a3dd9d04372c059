#include "common/clients/weight_publisher.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_probe.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/raw_stream.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "common/weights/weight_stream_sender.h"
#include "plumb/v1/weights.pb.h"

namespace plumb::clients {
namespace {

using Clock = std::chrono::steady_clock;

// Streams `tensors` to one endpoint's LoadWeights (`method`) on a raw stream, with the
// configured bearer token; stops when `cancelled`.
absl::StatusOr<v1::LoadWeightsResponse> StreamTo(
    const std::shared_ptr<grpc::Channel>& channel, const rpc::ChannelOptions& client,
    const char* method, const std::map<std::string, at::Tensor>& tensors,
    const weights::SendOptions& options, absl::Duration timeout,
    const std::function<bool()>& cancelled, uint64_t* bytes) {
  std::unique_ptr<grpc::ClientContext> context = rpc::NewClientContext(client, timeout);
  grpc::ByteBuffer reply;
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer =
      rpc::StartRawClientStream(channel, method, context.get(), &reply);
  absl::StatusOr<uint64_t> sent =
      weights::SendWeightStreamToWire(tensors, options, [&](const grpc::ByteBuffer& chunk) {
        if (cancelled && cancelled()) {
          context->TryCancel();
          return false;
        }
        return writer->Write(chunk);
      });
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (sent.ok()) *bytes = *sent;
  if (!status.ok()) return rpc::FromGrpcStatus(status);
  if (!sent.ok()) return sent.status();
  v1::LoadWeightsResponse response;
  RETURN_IF_ERROR(rpc::ParseReply(reply, &response));
  return response;
}

}  // namespace

WeightPublisher::WeightPublisher(rpc::ChannelOptions client) : client_(std::move(client)) {}
WeightPublisher::~WeightPublisher() = default;

absl::StatusOr<std::shared_ptr<grpc::Channel>> WeightPublisher::ChannelTo(
    const std::string& endpoint) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[endpoint];
  if (channel == nullptr) {
    rpc::ChannelOptions options = client_;
    options.target = endpoint;
    ASSIGN_OR_RETURN(channel, rpc::CreateChannel(options));
  }
  return channel;
}

PublishTargetOutcome WeightPublisher::PublishOne(const std::map<std::string, at::Tensor>& tensors,
                                                 const PublishSpec& spec,
                                                 const PublishTarget& target) {
  const auto begin = Clock::now();
  PublishTargetOutcome result;
  result.target = target;
  weights::SendOptions options;
  options.version = spec.version;
  options.model = target.model;
  options.architecture = spec.architecture;
  options.source = spec.source;
  options.allow_downgrade = spec.allow_downgrade;
  absl::StatusOr<v1::LoadWeightsResponse> loaded = absl::NotFoundError(
      absl::StrCat(Echo(target.endpoint), " serves no Generator, Reference or RewardScorer"));
  const absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ChannelTo(target.endpoint);
  if (!channel.ok()) loaded = channel.status();
  // Which model service the endpoint runs, by its health status. A probe that fails for
  // another reason than an unknown service (unreachable, no answer) ends the probing.
  auto serves = [&](const char* service) {
    if (!channel.ok()) return false;
    absl::StatusOr<rpc::ServingStatus> health =
        rpc::CheckHealth(*channel, service, absl::Seconds(10), client_.bearer_token);
    if (!health.ok() && health.status().code() != absl::StatusCode::kNotFound) {
      loaded = health.status();
      return false;
    }
    return health.ok() && *health == rpc::ServingStatus::kServing;
  };
  auto stream = [&](const char* method) {
    return StreamTo(*channel, client_, method, tensors, options, spec.target_timeout,
                    spec.cancelled, &result.bytes);
  };
  auto unreachable = [&] {
    return !loaded.ok() && loaded.status().code() != absl::StatusCode::kNotFound;
  };
  if (!target.model.empty() && serves("plumb.v1.RewardScorer")) {
    loaded = stream("/plumb.v1.RewardScorer/LoadWeights");
  } else if (!unreachable() && serves("plumb.v1.Generator")) {
    loaded = stream("/plumb.v1.Generator/LoadWeights");
  } else if (!unreachable() && serves("plumb.v1.Reference")) {
    loaded = stream("/plumb.v1.Reference/LoadWeights");
  }
  result.status = loaded.status();
  if (loaded.ok()) result.previous_version = loaded->previous_version();
  result.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  return result;
}

std::vector<PublishTargetOutcome> WeightPublisher::Publish(
    const std::map<std::string, at::Tensor>& tensors, const PublishSpec& spec,
    const std::vector<PublishTarget>& targets) {
  std::vector<PublishTargetOutcome> results(targets.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < targets.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = PublishOne(tensors, spec, targets[i]); });
  }
  for (std::thread& t : threads) t.join();
  return results;
}

}  // namespace plumb::clients
