#include "services/plumb-coordinator/retrying_clients.h"

#include <algorithm>
#include <random>

namespace plumb::coordinator {
namespace {

bool Transient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsResourceExhausted(status) ||
         absl::IsAborted(status) || absl::IsDeadlineExceeded(status);
}

// Calls `call` (returning StatusOr<T>) under the policy.
template <typename T>
absl::StatusOr<T> Retried(const RetryPlan& policy, const clients::CallOptions& options,
                          const std::function<absl::StatusOr<T>()>& call) {
  absl::StatusOr<T> result = absl::UnknownError("not called");
  absl::Status status = CallWithRetries(policy, options, [&] {
    result = call();
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

}  // namespace

absl::Status CallWithRetries(const RetryPlan& policy, const clients::CallOptions& options,
                             const std::function<absl::Status()>& call,
                             const std::function<void(const absl::Status&)>& on_retry) {
  thread_local std::mt19937_64 random(std::random_device{}());
  absl::Duration ceiling = policy.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    const absl::Status status = call();
    if (status.ok() || !Transient(status) || attempt >= std::max(1, policy.max_attempts) ||
        options.cancelled()) {
      return status;
    }
    if (on_retry) on_retry(status);
    // Full jitter: a uniform wait in [0, ceiling), the ceiling growing to max_backoff.
    const double fraction = std::uniform_real_distribution<double>(0, 1)(random);
    const absl::Time until = absl::Now() + ceiling * fraction;
    while (absl::Now() < until && !options.cancelled()) {
      absl::SleepFor(std::min(absl::Milliseconds(50), until - absl::Now()));
    }
    if (options.cancelled()) return absl::CancelledError("cancelled during a retry's back-off");
    ceiling = std::min(policy.max_backoff, ceiling * policy.backoff_multiplier);
  }
}

absl::StatusOr<std::vector<scorer::ScoreOutput>> RetryingScorerClient::Score(
    const std::vector<scorer::ScoreInput>& items, const std::vector<std::string>& objectives,
    const clients::CallOptions& options) {
  return Retried<std::vector<scorer::ScoreOutput>>(
      policy_, options, [&] { return inner_->Score(items, objectives, options); });
}

absl::StatusOr<reference::LogProbsOutcome> RetryingReferenceClient::LogProbs(
    const reference::LogProbsJob& job, const clients::CallOptions& options) {
  return Retried<reference::LogProbsOutcome>(policy_, options,
                                             [&] { return inner_->LogProbs(job, options); });
}

absl::StatusOr<learner::SessionStatus> RetryingLearnerClient::StartSession(
    const clients::StartSessionCall& call, const clients::CallOptions& options) {
  if (call.session_key.empty()) return inner_->StartSession(call, options);
  return Retried<learner::SessionStatus>(policy_, options,
                                         [&] { return inner_->StartSession(call, options); });
}

absl::StatusOr<learner::TrainStats> RetryingLearnerClient::Train(
    const clients::TrainCall& call, const clients::CallOptions& options) {
  if (call.sequence == 0) return inner_->Train(call, options);  // not safe to repeat
  return Retried<learner::TrainStats>(policy_, options,
                                      [&] { return inner_->Train(call, options); });
}

absl::StatusOr<clients::PublishOutcome> RetryingLearnerClient::PublishWeights(
    const clients::PublishCall& call, const clients::CallOptions& options) {
  return Retried<clients::PublishOutcome>(policy_, options,
                                          [&] { return inner_->PublishWeights(call, options); });
}

absl::StatusOr<learner::CheckpointInfo> RetryingLearnerClient::SaveCheckpoint(
    const std::string& session_id, const std::string& path, bool weights_only, bool overwrite,
    const clients::CallOptions& options) {
  if (!overwrite) return inner_->SaveCheckpoint(session_id, path, weights_only, false, options);
  return Retried<learner::CheckpointInfo>(policy_, options, [&] {
    return inner_->SaveCheckpoint(session_id, path, weights_only, true, options);
  });
}

absl::StatusOr<learner::CheckpointInfo> RetryingLearnerClient::LoadCheckpoint(
    const std::string& session_id, const std::string& path, bool weights_only,
    const clients::CallOptions& options) {
  return Retried<learner::CheckpointInfo>(policy_, options, [&] {
    return inner_->LoadCheckpoint(session_id, path, weights_only, options);
  });
}

absl::StatusOr<uint64_t> RetryingLearnerClient::EndSession(const std::string& session_id,
                                                           const clients::CallOptions& options) {
  return Retried<uint64_t>(policy_, options,
                           [&] { return inner_->EndSession(session_id, options); });
}

absl::StatusOr<clients::LearnerStatus> RetryingLearnerClient::GetStatus(
    const clients::CallOptions& options) {
  return Retried<clients::LearnerStatus>(policy_, options,
                                         [&] { return inner_->GetStatus(options); });
}

}  // namespace plumb::coordinator
