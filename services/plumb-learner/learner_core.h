// The core of plumb-learner, without gRPC: one training session at a time that owns the policy
// (with its value head for PPO, or its reward head for reward-model training), the AdamW
// optimizer and the policy version (= optimizer steps taken since base weights). Train calls run
// one update on a batch:
//   PPO          values and behaviour log-probs (no grad), KL-shaped rewards, GAE, whitened
//                advantages, then `epochs` passes of minibatches (one optimizer step each) of the
//                clipped surrogate plus the clipped value loss (and optional entropy bonus);
//   GRPO / RLOO / REINFORCE   critic-free: one sequence advantage per rollout (group-normalised,
//                leave-one-out, or reward minus a moving-average / batch-mean baseline), then
//                epochs of minibatches of the (clipped) policy-gradient surrogate;
//   REJECTION_SAMPLING_SFT   the best `top_n` samples of each prompt group by reward, then one SFT
//                step on them;
//   DPO / IPO / CDPO, ORPO, SimPO   one step of the pairwise loss (DPO family with the caller's
//                reference sums);
//   KTO          one step on unpaired desirable/undesirable examples with the batch's reference
//                point;
//   RRHF         one step on ranked groups;
//   REWARD_MODEL one step of the Bradley-Terry loss (margins optional) on pairs or ranked groups;
//                a pair with a preference probability p trains on the cross-entropy against p;
//   SFT          one step of token-mean cross-entropy on completions.
//
// Data parallelism: a core may be given a World of several ranks (one process each). Every rank
// must then receive the same calls in the same order with the same arguments (the service's
// replicator does that); each rank computes its share of every minibatch, gradients and
// statistics are summed across ranks, and every rank takes the same optimizer step, so the
// weights stay identical without being broadcast. Losses are divided by global normalisers, so
// the update equals what one process computes on the whole batch.
//
// Cancellation: every Train method takes a predicate that the update asks at its micro-batch
// boundaries (one process) and optimizer-step boundaries (every rank votes, so all ranks stop at
// the same step). An abandoned call answers CANCELLED and leaves: the optimizer steps it had
// completed (the policy version counts them), no gradient of its unfinished minibatch (zeroed),
// the KL controller, REINFORCE baseline and train_calls as before the call, and for offline
// algorithms an empty gradient-accumulation window (the earlier calls' gradients are dropped too).
// A non-finite loss or gradient norm stops the call the same way, FAILED_PRECONDITION naming it.
//
// Thread safety: every method may be called from any thread; a mutex serialises them (a second
// Train while one runs is ABORTED rather than queued). Status() and Model() never wait for
// a running Train: they read a snapshot updated at every optimizer step.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/api/learner_algorithm_kind.h"
#include "common/api/learner_options.h"
#include "common/api/learner_types.h"
#include "common/model/model_config.h"
#include "common/train/distributed.h"
#include "services/plumb-learner/learner_storage.h"

namespace plumb::learner {

// The model a session trains, for GetInfo.
struct ModelDescription {
  model::ModelConfig config;
  c10::ScalarType dtype = c10::ScalarType::Float;  // parameter dtype
  std::string device;
  std::string source;  // the folder its weights were last loaded from
  absl::Time loaded;   // when
  // PPO with a separate critic: the critic's config and initial folder.
  std::optional<model::ModelConfig> critic;
  std::string critic_source;
};

// Asked by a running Train call at its boundaries; true abandons the call. May be empty.
using CancelPredicate = std::function<bool()>;

struct PolicyWeights {
  std::map<std::string, at::Tensor> tensors;  // HF names, CPU, LoRA merged
  uint64_t version = 0;
  std::string architecture = "llama";  // model::ModelConfig::Architecture()
};

class LearnerCore {
 public:
  // A core on one process that reads and writes inside `storage`'s roots.
  explicit LearnerCore(Storage storage);
  // A core that is one rank of `world` (not owned; must outlive the core).
  LearnerCore(Storage storage, train::World* world);
  ~LearnerCore();

  int rank() const;
  int world_size() const;

  // Loads the policy and builds the optimizer. FAILED_PRECONDITION when a session is active
  // unless `replace_active`; an active session started with the same non-empty key is returned.
  // `id` names the new session (empty = a random id; data-parallel ranks pass rank 0's).
  absl::StatusOr<SessionStatus> StartSession(const SessionOptions& options,
                                             const std::string& session_key, bool replace_active,
                                             bool* created, const std::string& id = "");
  absl::StatusOr<TrainStats> TrainExperience(const std::string& session,
                                             const std::vector<Experience>& batch,
                                             double temperature,
                                             const CancelPredicate& cancelled = {});
  absl::StatusOr<TrainStats> TrainPreference(const std::string& session,
                                             const std::vector<PreferenceExample>& batch,
                                             const CancelPredicate& cancelled = {});
  absl::StatusOr<TrainStats> TrainSft(const std::string& session,
                                      const std::vector<SftExample>& batch,
                                      const CancelPredicate& cancelled = {});
  absl::StatusOr<TrainStats> TrainUnpaired(const std::string& session,
                                           const std::vector<UnpairedExample>& batch,
                                           const CancelPredicate& cancelled = {});
  absl::StatusOr<TrainStats> TrainRanked(const std::string& session,
                                         const std::vector<RankedGroup>& batch,
                                         const CancelPredicate& cancelled = {});
  // The policy weights at an optimizer-step boundary, in `dtype`.
  absl::StatusOr<PolicyWeights> Weights(const std::string& session, c10::ScalarType dtype);
  // `path` is a client's: resolved inside the checkpoint root (see learner_storage.h); the
  // answer carries the folder written or read.
  absl::StatusOr<CheckpointInfo> SaveCheckpoint(const std::string& session, const std::string& path,
                                                bool weights_only, bool overwrite);
  absl::StatusOr<CheckpointInfo> LoadCheckpoint(const std::string& session, const std::string& path,
                                                bool weights_only);
  absl::StatusOr<uint64_t> EndSession(const std::string& session);
  // The active session's state as of its last optimizer step (never waits for a Train call).
  std::optional<SessionStatus> Status() const;
  // The active session's model, if any (never waits for a Train call either).
  std::optional<ModelDescription> Model() const;

 private:
  struct Session;
  // What Status() and Model() report; the session updates it as it goes.
  struct Snapshot {
    mutable absl::Mutex mu;
    std::optional<SessionStatus> status ABSL_GUARDED_BY(mu);
    std::optional<ModelDescription> model ABSL_GUARDED_BY(mu);
  };
  absl::StatusOr<Session*> Find(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A Train call's session and the kind of its algorithm (learner_algorithm_kind.h).
  struct TrainCall {
    Session* session;
    const LearnerAlgorithmKind* kind;
  };
  // The session `id` if its algorithm's kind takes `batch` batches and the batch's size is
  // within bounds; INVALID_ARGUMENT / NOT_FOUND naming what is wrong otherwise.
  absl::StatusOr<TrainCall> OpenTrainCall(const std::string& id, TrainBatchKind batch,
                                          size_t batch_size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs one update of a Train call with `cancelled` installed; on failure, clears what the
  // update left half done (see "Cancellation" above).
  absl::StatusOr<TrainStats> RunUpdate(Session* s, const CancelPredicate& cancelled,
                                       const std::function<absl::StatusOr<TrainStats>()>& update)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces the active session (null = none) and its snapshot.
  void SetSession(std::unique_ptr<Session> session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Storage storage_;
  std::unique_ptr<train::World> own_world_;
  train::World* world_;
  mutable absl::Mutex mu_;
  std::unique_ptr<Session> session_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> training_{false};
  Snapshot snapshot_;
};

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_H_
