// In-memory fakes of the four client interfaces, for unit tests of scheduling logic (the round
// functions, the coordinator): deterministic answers and programmable faults (latency, failure
// after N calls, a hang, a lost replica, a replica lost half-way through a stream). The real
// services are tested over real sockets elsewhere; these never stand in for them there.
//
// Thread safety: every fake is thread-safe.
#ifndef PLUMB_COMMON_CLIENTS_FAKE_CLIENTS_H_
#define PLUMB_COMMON_CLIENTS_FAKE_CLIENTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clients/generator_client.h"
#include "common/clients/learner_client.h"
#include "common/clients/reference_client.h"
#include "common/clients/scorer_client.h"

namespace plumb::clients {

struct FaultPlan {
  absl::Duration latency = absl::ZeroDuration();  // waited before each call is answered
  int fail_after_calls = -1;  // calls after the first N answer `failure` (-1 = never)
  absl::Status failure = absl::UnavailableError("injected failure");
  bool hang = false;  // calls block until cancelled (CANCELLED) or past their deadline
  bool lost = false;  // every call answers UNAVAILABLE, as a dead replica does
};

// What every fake shares: its endpoint, its fault plan and a call count.
class FakeReplica {
 public:
  explicit FakeReplica(std::string endpoint) : endpoint_(std::move(endpoint)) {}
  void SetFaults(FaultPlan plan);
  void Lose();  // from now on UNAVAILABLE
  int calls() const;

 protected:
  // Counts the call and applies the plan; a non-OK status is the call's answer. A call without
  // a timeout hangs for at most 60 s.
  absl::Status Enter(const CallOptions& options);
  const std::string endpoint_;

 private:
  mutable absl::Mutex mu_;
  FaultPlan plan_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// Rollouts made of the prompt and a hash of (seed, prompt, sample index, policy version):
// the same request on the same version gives the same rollouts on any FakeGenerator.
class FakeGenerator final : public GeneratorClient, public FakeReplica {
 public:
  explicit FakeGenerator(std::string endpoint) : FakeReplica(std::move(endpoint)) {}
  const std::string& endpoint() const override { return endpoint_; }
  absl::Status Generate(const generator::GenerateJob& job, const CallOptions& options,
                        const std::function<bool(generator::RolloutResult)>& on_rollout) override;
  absl::StatusOr<GeneratorStatus> GetStatus(const CallOptions& options) override;

  // The replica dies after handing out this many rollouts of its next Generate calls.
  void LoseAfterRollouts(int rollouts);
  void SetPolicyVersion(uint64_t version);
  uint64_t policy_version() const;
  std::vector<generator::GenerateJob> jobs() const;  // every job received, in order

 private:
  mutable absl::Mutex mu_;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  int lose_after_ ABSL_GUARDED_BY(mu_) = -1;
  std::vector<generator::GenerateJob> jobs_ ABSL_GUARDED_BY(mu_);
};

class FakeScorer final : public ScorerClient, public FakeReplica {
 public:
  // The reward of one item; the default counts the response's tokens (longer = better).
  using RewardFn = std::function<double(const scorer::ScoreInput&)>;
  explicit FakeScorer(std::string endpoint, RewardFn reward = nullptr);
  const std::string& endpoint() const override { return endpoint_; }
  absl::StatusOr<std::vector<scorer::ScoreOutput>> Score(
      const std::vector<scorer::ScoreInput>& items, const std::vector<std::string>& objectives,
      const CallOptions& options) override;

 private:
  const RewardFn reward_;
};

// Log-probs of -1 per response token (or `logprob`).
class FakeReference final : public ReferenceClient, public FakeReplica {
 public:
  explicit FakeReference(std::string endpoint, float logprob = -1.0f)
      : FakeReplica(std::move(endpoint)), logprob_(logprob) {}
  const std::string& endpoint() const override { return endpoint_; }
  absl::StatusOr<reference::LogProbsOutcome> LogProbs(const reference::LogProbsJob& job,
                                                      const CallOptions& options) override;
  // The temperature of every LogProbs job so far, in order.
  std::vector<double> temperatures() const;

 private:
  const float logprob_;
  mutable absl::Mutex temperatures_mu_;
  std::vector<double> temperatures_ ABSL_GUARDED_BY(temperatures_mu_);
};

// One session at a time; each Train call takes one optimizer step (PPO-family: `epochs` steps)
// and records its batch. PublishWeights sets the version of the registered FakeGenerators it
// names; other endpoints fail with NOT_FOUND in their result.
class FakeLearner final : public LearnerClient, public FakeReplica {
 public:
  explicit FakeLearner(std::string endpoint) : FakeReplica(std::move(endpoint)) {}
  const std::string& endpoint() const override { return endpoint_; }
  void AddPublishTarget(FakeGenerator* generator);  // not owned; must outlive the learner
  // Another endpoint that takes weights (a reference, or a scorer's `model`): publishes to it
  // succeed and are remembered.
  void AddPublishEndpoint(const std::string& endpoint);
  // The last version published to (endpoint, model) added by AddPublishEndpoint; 0 if none.
  uint64_t published_to(const std::string& endpoint, const std::string& model = "") const;

  absl::StatusOr<learner::SessionStatus> StartSession(const StartSessionCall& call,
                                                      const CallOptions& options) override;
  absl::StatusOr<learner::TrainStats> Train(const TrainCall& call,
                                            const CallOptions& options) override;
  absl::StatusOr<PublishOutcome> PublishWeights(const PublishCall& call,
                                                const CallOptions& options) override;
  absl::StatusOr<learner::CheckpointInfo> SaveCheckpoint(const std::string& session_id,
                                                         const std::string& path, bool weights_only,
                                                         bool overwrite,
                                                         const CallOptions& options) override;
  absl::StatusOr<learner::CheckpointInfo> LoadCheckpoint(const std::string& session_id,
                                                         const std::string& path, bool weights_only,
                                                         const CallOptions& options) override;
  absl::StatusOr<uint64_t> EndSession(const std::string& session_id,
                                      const CallOptions& options) override;
  absl::StatusOr<LearnerStatus> GetStatus(const CallOptions& options) override;

  std::vector<TrainCall> train_calls() const;
  int publish_calls() const;
  // The policy_path of every session started, in order.
  std::vector<std::string> sessions_started_from() const;
  // Forgets the session, as a restarted learner would.
  void ForgetSession();

 private:
  absl::Status CheckSession(const std::string& id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  mutable absl::Mutex mu_;
  std::map<std::string, FakeGenerator*> targets_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> endpoints_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> published_ ABSL_GUARDED_BY(mu_);
  std::optional<learner::SessionStatus> session_ ABSL_GUARDED_BY(mu_);
  learner::SessionOptions options_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, learner::TrainStats> answered_ ABSL_GUARDED_BY(mu_);  // by sequence
  std::map<std::string, uint64_t> checkpoints_ ABSL_GUARDED_BY(mu_);       // path -> version
  std::vector<TrainCall> train_calls_ ABSL_GUARDED_BY(mu_);
  int publish_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int next_session_ ABSL_GUARDED_BY(mu_) = 0;
  std::string session_key_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> started_from_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb::clients

#endif  // PLUMB_COMMON_CLIENTS_FAKE_CLIENTS_H_
