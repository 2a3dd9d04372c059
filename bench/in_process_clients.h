// The client interfaces over cores in this process: the same round code (common/rounds) runs
// against these and against the gRPC clients, so the PPO bench compares like with like. A
// "publish" copies the learner's weights into the target's VersionedModel (the call a LoadWeights
// stream ends in).
//
// Thread safety: as the cores they wrap.
#ifndef PLUMB_BENCH_IN_PROCESS_CLIENTS_H_
#define PLUMB_BENCH_IN_PROCESS_CLIENTS_H_

#include <map>
#include <string>

#include "common/clients/generator_client.h"
#include "common/clients/learner_client.h"
#include "common/clients/reference_client.h"
#include "common/clients/scorer_client.h"
#include "common/weights/versioned_model.h"
#include "services/plumb-generator/generator_core.h"
#include "services/plumb-learner/learner_core.h"
#include "services/plumb-reference/reference_core.h"
#include "services/plumb-scorer/scorer.h"

namespace plumb::bench {

class InProcessGenerator final : public clients::GeneratorClient {
 public:
  InProcessGenerator(std::string endpoint, generator::GeneratorCore* core)
      : endpoint_(std::move(endpoint)), core_(core) {}
  const std::string& endpoint() const override { return endpoint_; }
  absl::Status Generate(const generator::GenerateJob& job, const clients::CallOptions& options,
                        const std::function<bool(generator::RolloutResult)>& on_rollout) override;
  absl::StatusOr<clients::GeneratorStatus> GetStatus(const clients::CallOptions& options) override;

 private:
  const std::string endpoint_;
  generator::GeneratorCore* core_;
};

class InProcessScorer final : public clients::ScorerClient {
 public:
  explicit InProcessScorer(const scorer::Scorer* core) : core_(core) {}
  const std::string& endpoint() const override { return endpoint_; }
  absl::StatusOr<std::vector<scorer::ScoreOutput>> Score(
      const std::vector<scorer::ScoreInput>& items, const std::vector<std::string>& objectives,
      const clients::CallOptions& options) override {
    return core_->Score(items, objectives);
  }

 private:
  const std::string endpoint_ = "in-process:scorer";
  const scorer::Scorer* core_;
};

class InProcessReference final : public clients::ReferenceClient {
 public:
  explicit InProcessReference(reference::ReferenceCore* core) : core_(core) {}
  const std::string& endpoint() const override { return endpoint_; }
  absl::StatusOr<reference::LogProbsOutcome> LogProbs(
      const reference::LogProbsJob& job, const clients::CallOptions& options) override {
    return core_->LogProbs(job);
  }

 private:
  const std::string endpoint_ = "in-process:reference";
  reference::ReferenceCore* core_;
};

class InProcessLearner final : public clients::LearnerClient {
 public:
  // `targets`: the models PublishWeights may write, by endpoint (not owned).
  InProcessLearner(learner::LearnerCore* core,
                   std::map<std::string, weights::VersionedModel*> targets)
      : core_(core), targets_(std::move(targets)) {}
  const std::string& endpoint() const override { return endpoint_; }
  absl::StatusOr<learner::SessionStatus> StartSession(const clients::StartSessionCall& call,
                                                      const clients::CallOptions& options) override;
  absl::StatusOr<learner::TrainStats> Train(const clients::TrainCall& call,
                                            const clients::CallOptions& options) override;
  absl::StatusOr<clients::PublishOutcome> PublishWeights(
      const clients::PublishCall& call, const clients::CallOptions& options) override;
  absl::StatusOr<learner::CheckpointInfo> SaveCheckpoint(
      const std::string& session_id, const std::string& path, bool weights_only, bool overwrite,
      const clients::CallOptions& options) override {
    return core_->SaveCheckpoint(session_id, path, weights_only, overwrite);
  }
  absl::StatusOr<learner::CheckpointInfo> LoadCheckpoint(
      const std::string& session_id, const std::string& path, bool weights_only,
      const clients::CallOptions& options) override {
    return core_->LoadCheckpoint(session_id, path, weights_only);
  }
  absl::StatusOr<uint64_t> EndSession(const std::string& session_id,
                                      const clients::CallOptions& options) override {
    return core_->EndSession(session_id);
  }
  absl::StatusOr<clients::LearnerStatus> GetStatus(const clients::CallOptions& options) override;

 private:
  const std::string endpoint_ = "in-process:learner";
  learner::LearnerCore* core_;
  const std::map<std::string, weights::VersionedModel*> targets_;
};

}  // namespace plumb::bench

#endif  // PLUMB_BENCH_IN_PROCESS_CLIENTS_H_
