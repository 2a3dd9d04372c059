// One way to move weights: streams a tensor map to the LoadWeights of model services (generator,
// reference, or a scorer objective), each target in its own thread, on raw gRPC streams whose
// tensor bytes are not copied (weights::SendWeightStreamToWire). Which service an endpoint runs
// is asked of its health service; a target with a `model` is a RewardScorer objective. Channels
// are kept per endpoint between publishes. plumb-learner's PublishWeights uses it; a coordinator
// that moves a checkpoint to a fresh replica can too.
//
// It sends only where its caller asks: the allow-list of targets is the caller's (the learner
// checks learner.publish_targets before it publishes).
//
// Thread safety: Publish may be called from several threads; the tensors must not change while
// they are sent.
#ifndef PLUMB_COMMON_CLIENTS_WEIGHT_PUBLISHER_H_
#define PLUMB_COMMON_CLIENTS_WEIGHT_PUBLISHER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clients/learner_client.h"
#include "common/rpc/channel_factory.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace plumb::clients {

struct PublishSpec {
  uint64_t version = 0;
  std::string source;  // for the receivers' logs, e.g. "learner:<session>"
  // The sender's model::ModelConfig::Architecture(); receivers refuse another one.
  std::string architecture = "llama";
  bool allow_downgrade = false;
  absl::Duration target_timeout = absl::Seconds(300);  // per target
  std::function<bool()> cancelled;                     // may be empty
};

class WeightPublisher {
 public:
  // `client`: TLS, token and retries for every target (its `target` is ignored).
  explicit WeightPublisher(rpc::ChannelOptions client);
  ~WeightPublisher();

  // One outcome per target, in target order (ALREADY_EXISTS: the target had this version).
  std::vector<PublishTargetOutcome> Publish(const std::map<std::string, at::Tensor>& tensors,
                                            const PublishSpec& spec,
                                            const std::vector<PublishTarget>& targets);

 private:
  absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelTo(const std::string& endpoint);
  PublishTargetOutcome PublishOne(const std::map<std::string, at::Tensor>& tensors,
                                  const PublishSpec& spec, const PublishTarget& target);

  const rpc::ChannelOptions client_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb::clients

#endif  // PLUMB_COMMON_CLIENTS_WEIGHT_PUBLISHER_H_
