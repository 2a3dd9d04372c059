// The gRPC adapter of plumb-learner: plumb.v1.Learner messages to and from the core's types, and
// PublishWeights, which streams the session's policy to every target in parallel (the service
// behind each endpoint — Generator, Reference or RewardScorer — is found by its health status).
// Weights go only to endpoints on the configured allow-list (anything else is PERMISSION_DENIED
// before any connection is made), over channels made by rpc::CreateChannel with the configured
// TLS and bearer token, and one publish runs at a time (each holds a copy of the policy; a
// second concurrent one is ABORTED).
//
// Data-parallel ranks: see learner_replication.h; this service runs on rank 0.
//
// Thread safety: gRPC's sync-server threads call the handlers; the core serialises sessions.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_SERVICE_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_SERVICE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clients/weight_publisher.h"
#include "common/metrics/registry.h"
#include "common/rpc/channel_factory.h"
#include "common/tokenizer/tokenizer.h"
#include "plumb/v1/learner.grpc.pb.h"
#include "services/plumb-learner/learner_core.h"
#include "services/plumb-learner/learner_replication.h"
#include "services/plumb-learner/train_call_ledger.h"

namespace plumb::learner {

struct PublishOptions {
  std::vector<std::string> targets;  // exact endpoints PublishWeights may send to
  rpc::ChannelOptions client;        // TLS, token, retries (target unused)
};

class LearnerService final : public v1::Learner::Service {
 public:
  // `replicator` (not owned; null = one process) replays state-changing calls on the other
  // data-parallel ranks. A metric `registry` refuses (a name taken with other labels) is the
  // error, at start-up.
  static absl::StatusOr<std::unique_ptr<LearnerService>> Create(LearnerCore* core,
                                                                metrics::Registry* registry,
                                                                PublishOptions publish,
                                                                Replicator* replicator = nullptr);

  grpc::Status StartSession(grpc::ServerContext* context, const v1::StartSessionRequest* request,
                            v1::StartSessionResponse* response) override;
  grpc::Status Train(grpc::ServerContext* context, const v1::TrainRequest* request,
                     v1::TrainResponse* response) override;
  grpc::Status PublishWeights(grpc::ServerContext* context,
                              const v1::PublishWeightsRequest* request,
                              v1::PublishWeightsResponse* response) override;
  grpc::Status SaveCheckpoint(grpc::ServerContext* context,
                              const v1::SaveCheckpointRequest* request,
                              v1::SaveCheckpointResponse* response) override;
  grpc::Status LoadCheckpoint(grpc::ServerContext* context,
                              const v1::LoadCheckpointRequest* request,
                              v1::LoadCheckpointResponse* response) override;
  grpc::Status EndSession(grpc::ServerContext* context, const v1::EndSessionRequest* request,
                          v1::EndSessionResponse* response) override;
  grpc::Status GetInfo(grpc::ServerContext* context, const v1::LearnerGetInfoRequest* request,
                       v1::LearnerGetInfoResponse* response) override;

 private:
  LearnerService(LearnerCore* core, PublishOptions publish, Replicator* replicator);
  absl::Status RegisterMetrics(metrics::Registry* registry);
  void RecordStats(const TrainStats& stats);
  // The active session's ModelInfo (weights::FillModelInfo, as every model service fills it),
  // and its separate critic's when it has one and `critic` is not null.
  void FillModel(v1::ModelInfo* info, v1::ModelInfo* critic = nullptr);
  // Runs `local` on this rank after replaying the request on the other ranks (if any).
  absl::Status Replicated(Command command, const std::string& id,
                          const google::protobuf::Message& request,
                          const std::function<void()>& local);

  LearnerCore* core_;
  Replicator* replicator_;
  const PublishOptions publish_;
  // Which Train runs, the last sequenced answer, and a FAILED session (a lost rank).
  TrainCallLedger ledger_;
  std::atomic<bool> publishing_{false};
  absl::Mutex mu_;
  v1::TrainingConfig config_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> labels_ ABSL_GUARDED_BY(mu_);
  absl::Time session_started_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_ ABSL_GUARDED_BY(mu_);
  clients::WeightPublisher publisher_;          // keeps one channel per target between publishes
  metrics::CounterFamily* requests_ = nullptr;  // {rpc, code}
  metrics::Histogram* step_seconds_ = nullptr;
  metrics::GaugeFamily* losses_ = nullptr;  // {term}
  metrics::Gauge* kl_ = nullptr;
  metrics::Gauge* reward_ = nullptr;
  metrics::Gauge* grad_norm_ = nullptr;
  metrics::Gauge* version_ = nullptr;
  metrics::Histogram* sync_seconds_ = nullptr;
  metrics::Counter* sync_bytes_ = nullptr;
};

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_SERVICE_H_
