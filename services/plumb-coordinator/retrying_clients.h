// A job's calls to its scorer, reference and learner under the spec's retry policy
// (SchedulingSettings.retry): up to max_attempts per call, the first included, with exponential
// back-off and full jitter between them, for UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED and
// DEADLINE_EXCEEDED. A Train call is retried only when it carries a sequence number (the learner
// answers a repeated sequence from its memory instead of training twice). Generate streams are
// not wrapped: common/rounds hands a failed replica's share to another one instead.
// A cancelled call is never retried, and a cancel cuts the back-off short.
//
// Thread safety: as the wrapped clients (thread-safe); the wrappers hold no mutable state.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_RETRYING_CLIENTS_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_RETRYING_CLIENTS_H_

#include <functional>
#include <string>
#include <vector>

#include "common/clients/learner_client.h"
#include "common/clients/reference_client.h"
#include "common/clients/scorer_client.h"
#include "services/plumb-coordinator/job_plan.h"

namespace plumb::coordinator {

// Runs `call` under `policy`; `on_retry` (may be null) hears each failure that will be retried.
absl::Status CallWithRetries(const RetryPlan& policy, const clients::CallOptions& options,
                             const std::function<absl::Status()>& call,
                             const std::function<void(const absl::Status&)>& on_retry = nullptr);

class RetryingScorerClient final : public clients::ScorerClient {
 public:
  RetryingScorerClient(clients::ScorerClient* inner, RetryPlan policy)
      : inner_(inner), policy_(policy) {}
  const std::string& endpoint() const override { return inner_->endpoint(); }
  absl::StatusOr<std::vector<scorer::ScoreOutput>> Score(
      const std::vector<scorer::ScoreInput>& items, const std::vector<std::string>& objectives,
      const clients::CallOptions& options) override;

 private:
  clients::ScorerClient* const inner_;
  const RetryPlan policy_;
};

class RetryingReferenceClient final : public clients::ReferenceClient {
 public:
  RetryingReferenceClient(clients::ReferenceClient* inner, RetryPlan policy)
      : inner_(inner), policy_(policy) {}
  const std::string& endpoint() const override { return inner_->endpoint(); }
  absl::StatusOr<reference::LogProbsOutcome> LogProbs(const reference::LogProbsJob& job,
                                                      const clients::CallOptions& options) override;

 private:
  clients::ReferenceClient* const inner_;
  const RetryPlan policy_;
};

class RetryingLearnerClient final : public clients::LearnerClient {
 public:
  RetryingLearnerClient(clients::LearnerClient* inner, RetryPlan policy)
      : inner_(inner), policy_(policy) {}
  const std::string& endpoint() const override { return inner_->endpoint(); }
  absl::StatusOr<learner::SessionStatus> StartSession(const clients::StartSessionCall& call,
                                                      const clients::CallOptions& options) override;
  absl::StatusOr<learner::TrainStats> Train(const clients::TrainCall& call,
                                            const clients::CallOptions& options) override;
  absl::StatusOr<clients::PublishOutcome> PublishWeights(
      const clients::PublishCall& call, const clients::CallOptions& options) override;
  absl::StatusOr<learner::CheckpointInfo> SaveCheckpoint(
      const std::string& session_id, const std::string& path, bool weights_only, bool overwrite,
      const clients::CallOptions& options) override;
  absl::StatusOr<learner::CheckpointInfo> LoadCheckpoint(
      const std::string& session_id, const std::string& path, bool weights_only,
      const clients::CallOptions& options) override;
  absl::StatusOr<uint64_t> EndSession(const std::string& session_id,
                                      const clients::CallOptions& options) override;
  absl::StatusOr<clients::LearnerStatus> GetStatus(const clients::CallOptions& options) override;

 private:
  clients::LearnerClient* const inner_;
  const RetryPlan policy_;
};

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_RETRYING_CLIENTS_H_
