// Internal to plumb_learner_core: the training session behind LearnerCore, shared by the files
// that implement its updates (learner_core.cc: lifecycle, optimizer steps, collectives and
// checkpoints; learner_train_calls.cc: the Train methods' checks; learner_critic.cc: PPO's
// separate critic; learner_rollout_updates.cc: PPO, GRPO/RLOO/REINFORCE and rejection sampling;
// learner_offline_updates.cc: SFT, reward model, pairwise, KTO and RRHF).
//
// Every update follows the same data-parallel rule: the whole batch is known to every rank, each
// rank runs the forward/backward passes of its own rows (Shard), losses are divided by global
// normalisers computed from the whole batch, and Step() sums the gradients across ranks before
// every rank applies the same AdamW step. Statistics (train::StatSums, whose names every update
// declares up front) are summed across ranks with AllReduce() at the end of the call. Rows a rank
// does not own are never touched by it, so a rank with no rows in a minibatch still joins every
// collective.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_SESSION_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_SESSION_H_

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/algorithms/kl.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/logprobs.h"
#include "common/model/transformer.h"
#include "common/train/offline_updates.h"
#include "common/train/stat_sums.h"
#include "services/plumb-learner/learner_core.h"

namespace plumb::learner {

// Every sequence must fit the model: tokens in the vocabulary, non-empty parts, length limit.
absl::Status CheckSequence(const model::ModelConfig& config, int64_t max_length,
                           const std::string& what, const std::vector<int64_t>& prompt,
                           const std::vector<int64_t>& response);
// Per-token log-probs: finite, in [kMinTokenLogProb, 0]; INVALID_ARGUMENT naming the position.
absl::Status CheckLogProbs(const std::string& what, const std::vector<float>& values);
// A summed log-prob: finite, in [kMinSequenceLogProb, 0].
absl::Status CheckLogProbSum(const std::string& what, double value);
// A finite value in [min, max].
absl::Status CheckValue(const std::string& what, double value, double min, double max);

// The row order of one epoch of PPO / GRPO / RLOO / REINFORCE minibatches: a permutation of
// [0, n) drawn from the session seed, the policy version at the call's start and the epoch, so it
// differs from epoch to epoch and call to call, is the same on every data-parallel rank, and is
// reproduced by a session with the same seed (and by a resumed one).
std::vector<int64_t> MinibatchOrder(uint64_t seed, uint64_t version, int epoch, int64_t n);

// [rows, width] float tensor from ragged rows (zero-padded).
at::Tensor Padded(const std::vector<std::vector<float>>& rows, int64_t width);

struct LearnerCore::Session {
  std::string id;
  std::string key;
  SessionOptions options;
  train::World* world = nullptr;
  model::Transformer policy{nullptr};
  std::vector<at::Tensor> trainable;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  // PPO with a separate critic: the value network, its parameters and its own AdamW (null
  // otherwise; the policy's value head is then the critic).
  model::Transformer critic{nullptr};
  std::vector<at::Tensor> critic_trainable;
  std::unique_ptr<torch::optim::AdamW> critic_optimizer;
  algorithms::KlController kl = algorithms::KlController::Fixed(0.0);
  uint64_t version = 0;
  uint64_t steps = 0;
  uint64_t train_calls = 0;
  int accumulated_calls = 0;       // offline Train calls whose gradients await a step
  std::optional<double> baseline;  // REINFORCE moving-average baseline
  std::string error;
  LearnerCore::Snapshot* snapshot = nullptr;  // where Report() publishes the session's state
  ModelDescription model;                     // what Report() says of the policy

  // ---- the running Train call (reset by RunUpdate)
  const CancelPredicate* cancelled = nullptr;
  // What the call is doing ("PPO update"), named by the update; RunUpdate's model boundary
  // (TorchBoundary) prefixes an exception's message with it.
  std::string activity;
  std::string nonfinite;  // what went non-finite on this rank, if anything
  bool touched = false;   // gradients were written (so a failure must clear them)
  uint64_t call_start_steps = 0;
  uint64_t call_start_version = 0;

  // ---- the separate critic (learner_critic.cc)
  // Builds the critic from the model folder `dir`: its trunk, and its value head from a critic
  // the learner saved, else the first row of the folder's reward head score.weight (a reward
  // model's), else the folder's value_head.weight, else normal(0, 0.02) from `seed`.
  // FAILED_PRECONDITION when its vocabulary differs from the policy's or its context is shorter.
  absl::Status LoadCritic(const std::filesystem::path& dir, const model::ModelPlacement& placement,
                          uint64_t seed);
  // Values [b - a, R] (float) of the rows order[a..b) from the critic, or from the policy's
  // value head on `policy_scores` (the policy's forward of the same rows) without one.
  absl::StatusOr<at::Tensor> Values(const std::vector<Experience>& batch,
                                    const std::vector<int64_t>& order, int64_t a, int64_t b,
                                    const model::ResponseScores& policy_scores);
  // Writes the critic (and unless weights_only its optimizer state) into a checkpoint folder
  // being written, under critic/ and critic_state/.
  absl::Status SaveCritic(const std::filesystem::path& into, bool weights_only);
  // Reads them back; a checkpoint without a critic leaves the critic as it is when weights_only
  // and is FAILED_PRECONDITION otherwise.
  absl::Status LoadCriticCheckpoint(const std::filesystem::path& dir, bool weights_only);
  // Zeroes the gradients of the policy and the critic.
  void ZeroGrad();

  // ---- shared machinery (learner_core.cc)
  SessionStatus State() const;
  // Publishes State() and `model` to the snapshot.
  void Report();
  // This rank's caller asked to abandon the call (only rank 0 has a caller).
  bool CancelRequested() const;
  // The collective decision at an optimizer-step boundary, the same on every rank: refuses the
  // step (FAILED_PRECONDITION) when a loss went non-finite on any rank and abandons the call
  // (CANCELLED) when rank 0's caller cancelled. Either way the gradients are zeroed.
  absl::Status AgreeToContinue();
  // CANCELLED, saying what the abandoned call leaves (WhatStays).
  absl::Status CancelledStatus() const;
  std::string WhatStays() const;
  // Backpropagates `loss` (a scalar), unless it is not finite: then it is noted for
  // AgreeToContinue, which refuses the step on every rank, and nothing is propagated.
  void Backward(const at::Tensor& loss, const std::string& what);
  // This rank's rows of [begin, end): contiguous, sizes differ by at most one.
  std::pair<int64_t, int64_t> Shard(int64_t begin, int64_t end) const;
  // Calls fn(a, b) for consecutive micro-batches [a, b) covering [begin, end). On one process a
  // cancelled call stops between micro-batches (several ranks wait for the step boundary, where
  // they decide together).
  absl::Status ForMicroBatches(int64_t begin, int64_t end,
                               const std::function<absl::Status(int64_t, int64_t)>& fn) const;
  // CANCELLED when a call on one process was cancelled (several ranks wait for the step
  // boundary, where they decide together); asked between micro-batches.
  absl::Status CancelCheck() const;
  // Teacher-forced response log-probs under the policy (bf16 autocast when configured).
  absl::StatusOr<model::ResponseScores> Score(const std::vector<std::vector<int64_t>>& prompts,
                                              const std::vector<std::vector<int64_t>>& responses,
                                              double temperature = 1.0, bool with_entropy = false);
  // AgreeToContinue, then sums gradients across ranks, clips, applies one AdamW step;
  // version += 1. A non-finite gradient norm (the same on every rank: it is taken after the sum)
  // is FAILED_PRECONDITION and applies nothing.
  absl::StatusOr<double> Step(TrainStats* stats);
  // Offline algorithms: counts the call toward gradient_accumulation_steps and steps when due.
  absl::Status FinishOfflineCall(TrainStats* stats);
  // Loss scale of an offline call (1 / gradient_accumulation_steps).
  double OfflineScale() const;
  // Ends a Train call's statistics (the policy version after it and its duration) and counts it.
  void CloseCall(TrainStats* stats, std::chrono::steady_clock::time_point start);
  // Sums a tensor across ranks in place (a no-op on one rank).
  absl::Status ReduceTensors(const std::vector<at::Tensor>& tensors);

  // ---- updates on experience (learner_rollout_updates.cc)
  absl::StatusOr<TrainStats> Ppo(const std::vector<Experience>& batch, double temperature);
  absl::StatusOr<TrainStats> CriticFree(const std::vector<Experience>& batch, double temperature);
  absl::StatusOr<TrainStats> RejectionSampling(const std::vector<Experience>& batch);

  // ---- offline updates (learner_offline_updates.cc)
  absl::StatusOr<TrainStats> Sft(const std::vector<SftExample>& batch);
  absl::StatusOr<TrainStats> Pairs(const std::vector<PreferenceExample>& batch);
  absl::StatusOr<TrainStats> Kto(const std::vector<UnpairedExample>& batch);
  absl::StatusOr<TrainStats> Ranked(const std::vector<RankedGroup>& batch);
  // The context of an offline update of n items: this rank's shard, micro-batches, precision,
  // accumulation scale, Backward (naming `what`) and cancellation between micro-batches.
  train::UpdateContext OfflineContext(int64_t n, const std::string& what);

 private:
  // Shared by Ppo and CriticFree (learner_rollout_updates.cc).
  struct PolicyTargets;
  // Score() of the experiences order[a], ..., order[b - 1] of `batch`.
  absl::StatusOr<model::ResponseScores> ScoreRows(const std::vector<Experience>& batch,
                                                  const std::vector<int64_t>& order, int64_t a,
                                                  int64_t b, double temperature, bool with_entropy);
  absl::Status BehaviourPass(const std::vector<Experience>& batch, double temperature, bool values,
                             at::Tensor* logp, at::Tensor* old_values, at::Tensor* mask,
                             double* entropy_sum);
  absl::Status PolicyEpochs(const std::vector<Experience>& batch, double temperature,
                            const PolicyTargets& targets, TrainStats* stats);
  // Reward model on groups (`pairs`: PreferenceExamples as groups of two).
  absl::StatusOr<TrainStats> RewardModel(const std::vector<train::RankedItem>& groups, bool pairs);
};

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_SESSION_H_
