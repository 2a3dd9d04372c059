// The gRPC adapter of plumb-scorer: plumb.v1.RewardScorer to and from the core (scorer.h).
//   Score        per-objective scores and the composed reward of each item;
//   Compare      a Bradley-Terry judge over the composed reward: P(first) = sigmoid(r1 - r2);
//   LoadWeights  new weights for a reward_model objective, named by the manifest's `model`,
//                loaded into its VersionedModel by the LoadWeightsEndpoint every model service
//                uses, and swapped while requests in flight keep the old ones;
//   GetInfo      objectives, composition, judges and limits.
//
// Thread safety: gRPC's sync-server threads call the handlers concurrently; the core is
// thread-safe. One weight load at a time per objective (ABORTED otherwise).
#ifndef PLUMB_SERVICES_PLUMB_SCORER_SCORER_SERVICE_H_
#define PLUMB_SERVICES_PLUMB_SCORER_SCORER_SERVICE_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "common/weights/model_service_support.h"
#include "plumb/v1/scorer.grpc.pb.h"
#include "services/plumb-scorer/scorer.h"

namespace plumb::scorer {

class ScorerService final : public v1::RewardScorer::Service {
 public:
  // `weight_stream_idle_timeout`: a LoadWeights stream silent this long is cancelled (0 = never).
  // A metric `registry` refuses is the error, at start-up.
  static absl::StatusOr<std::unique_ptr<ScorerService>> Create(
      Scorer* scorer, metrics::Registry* registry, int max_pairs_per_request = 512,
      absl::Duration weight_stream_idle_timeout = absl::Seconds(30));

  grpc::Status Score(grpc::ServerContext* context, const v1::ScoreRequest* request,
                     v1::ScoreResponse* response) override;
  grpc::Status Compare(grpc::ServerContext* context, const v1::CompareRequest* request,
                       v1::CompareResponse* response) override;
  grpc::Status LoadWeights(grpc::ServerContext* context,
                           grpc::ServerReader<v1::WeightChunk>* reader,
                           v1::LoadWeightsResponse* response) override;
  grpc::Status GetInfo(grpc::ServerContext* context, const v1::RewardScorerGetInfoRequest* request,
                       v1::RewardScorerGetInfoResponse* response) override;

 private:
  ScorerService(Scorer* scorer, int max_pairs_per_request,
                absl::Duration weight_stream_idle_timeout);
  absl::Status RegisterMetrics(metrics::Registry* registry);
  Scorer* scorer_;
  const int max_pairs_per_request_;
  weights::LoadWeightsEndpoint load_weights_;
  metrics::CounterFamily* requests_ = nullptr;  // {rpc, code}
  metrics::Histogram* latency_ = nullptr;
  metrics::Histogram* batch_ = nullptr;
  metrics::Counter* cache_hits_ = nullptr;
  metrics::Counter* cache_misses_ = nullptr;
  metrics::GaugeFamily* versions_ = nullptr;  // {objective}
};

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_SCORER_SERVICE_H_
