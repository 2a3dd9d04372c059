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
//   SFT          one step of token-mean cross-entropy on completions.
//
// Data parallelism: a core may be given a World of several ranks (one process each). Every rank
// must then receive the same calls in the same order with the same arguments (the service's
// replicator does that); each rank computes its share of every minibatch, gradients and
// statistics are summed across ranks, and every rank takes the same optimizer step, so the
// weights stay identical without being broadcast. Losses are divided by global normalisers, so
// the update equals what one process computes on the whole batch.
//
// Thread safety: every method may be called from any thread; a mutex serialises them (a second
// Train while one runs is ABORTED rather than queued).
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/algorithms/dpo.h"
#include "common/algorithms/kl.h"
#include "common/algorithms/kto.h"
#include "common/algorithms/rrhf.h"
#include "common/algorithms/simpo.h"
#include "common/model/lora.h"
#include "common/train/distributed.h"
#include "common/train/lr_schedule.h"
#include "common/train/train_options.h"

namespace plumb::learner {

enum class Algorithm {
  kSft,
  kRewardModel,
  kPpo,
  kGrpo,
  kRloo,
  kReinforce,
  kRejectionSamplingSft,
  kDpo,
  kKto,
  kOrpo,
  kSimpo,
  kRrhf,
};

// How per-token policy losses are reduced over a minibatch.
enum class LossAggregation {
  kTokenMean,     // sum over tokens / tokens in the minibatch
  kSequenceMean,  // mean over sequences of each sequence's token mean
  kTokenSumNorm,  // sum over tokens / (sequences x the batch's longest response) (Dr. GRPO)
};

enum class Whitening { kNone, kMeanStd, kStdOnly };

struct RewardShapingOptions {
  std::optional<double> reward_clip;     // clip sequence rewards to [-c, c]
  std::optional<double> no_eos_penalty;  // added to rewards of truncated rollouts
  Whitening reward_whitening = Whitening::kNone;
};

struct KlOptions {
  algorithms::KlEstimator estimator = algorithms::KlEstimator::kK1;
  bool in_loss = false;  // KL term in the loss instead of the reward
  double coef = 0.05;
};

struct PpoOptions {
  double clip_low = 0.2, clip_high = 0.2;
  std::optional<double> dual_clip;
  std::optional<double> value_clip = 0.2;
  double gamma = 1.0, lambda = 0.95;
  algorithms::KlEstimator kl_estimator = algorithms::KlEstimator::kK1;
  double kl_coef = 0.05;
  bool kl_in_loss = false;
  std::optional<double> kl_target;  // adaptive controller when set
  int64_t kl_horizon = 10000;
  int epochs = 4;
  int minibatch_size = 0;  // sequences per optimizer step; 0 = the whole batch
  double value_loss_coef = 0.1;
  double entropy_coef = 0;
  bool whiten_advantages = true;
  LossAggregation aggregation = LossAggregation::kTokenMean;
  RewardShapingOptions shaping;
  std::optional<double> early_stop_kl;  // stop the epochs once approx KL exceeds this
};

enum class BaselineKind { kMovingAverage, kBatchMean, kNone };

// GRPO, RLOO and REINFORCE with a baseline: one advantage per sequence, no critic.
struct CriticFreeOptions {
  std::optional<double> clip_low, clip_high;  // ratio clipping; unset = none (plain REINFORCE)
  KlOptions kl;
  int epochs = 1;
  int minibatch_size = 0;
  bool scale_by_group_std = true;                        // GRPO
  Whitening advantage_whitening = Whitening::kNone;      // RLOO / REINFORCE, over the batch
  BaselineKind baseline = BaselineKind::kMovingAverage;  // REINFORCE
  double baseline_decay = 0.9;
  RewardShapingOptions shaping;
  LossAggregation aggregation = LossAggregation::kTokenMean;
};

struct RewardModelOptions {
  bool use_margin = false;
  double margin_scale = 1.0;
  double center_rewards_coef = 0.0;
};

enum class KtoReferencePoint { kBatchMismatched, kZero };

struct RejectionSamplingOptions {
  int top_n = 1;
  std::optional<double> min_reward;
  bool drop_truncated = false;
};

struct SessionOptions {
  Algorithm algorithm = Algorithm::kSft;
  PpoOptions ppo;
  CriticFreeOptions critic_free;
  algorithms::DpoOptions dpo;
  double dpo_sft_weight = 0;  // RPO: + weight x token-mean NLL of the chosen responses
  algorithms::KtoOptions kto;
  KtoReferencePoint kto_reference_point = KtoReferencePoint::kBatchMismatched;
  double orpo_weight = 0.1;
  algorithms::SimpoOptions simpo;
  algorithms::RrhfOptions rrhf;
  double rrhf_sft_weight = 1.0;
  RewardModelOptions reward_model;
  RejectionSamplingOptions rejection_sampling;
  int gradient_accumulation_steps = 1;     // offline algorithms: Train calls per step
  std::optional<uint64_t> max_policy_lag;  // on-policy algorithms
  train::OptimizerOptions optimizer;
  train::ScheduleOptions schedule;
  int64_t total_steps = 0;  // decay horizon of the schedule
  double max_grad_norm = 1.0;
  int micro_batch_size = 0;         // 0 = a whole minibatch per forward pass
  int64_t max_sequence_length = 0;  // 0 = the model's context
  uint64_t seed = 0;
  bool bf16_mixed = false;
  std::optional<model::LoraOptions> lora;
  std::string policy_path;  // a Hugging Face model folder or a learner checkpoint
  std::string dtype = "float32";
  std::string device = "cpu";
};

struct Experience {
  std::string group;  // prompt group (request id + prompt id)
  std::vector<int64_t> prompt, response;
  std::vector<float> logprobs;  // behaviour log-probs; empty = recompute
  std::vector<float> ref_logprobs;
  double reward = 0;
  bool stopped = true;  // finished with a stop token
  uint64_t policy_version = 0;
};

struct PreferenceExample {
  std::string id;
  std::vector<int64_t> prompt, chosen, rejected;
  std::optional<double> ref_chosen, ref_rejected;
  std::optional<double> margin;
};

struct UnpairedExample {
  std::string id;
  std::vector<int64_t> prompt, completion;
  bool desirable = true;
  std::optional<double> ref_logprob, ref_kl_logprob;
};

struct RankedGroup {
  std::string id;
  std::vector<int64_t> prompt;
  std::vector<std::vector<int64_t>> responses;
  std::vector<int> ranks;  // 0 = best; equal ranks are ties
};

struct SftExample {
  std::string id;
  std::vector<int64_t> prompt, completion;
  double weight = 1.0;
};

struct TrainStats {
  std::map<std::string, double> losses;
  std::optional<double> kl, clip_fraction, entropy, value_error, reward_mean, reward_std, kl_coef;
  double grad_norm = 0, learning_rate = 0, seconds = 0;
  uint64_t tokens = 0, sequences = 0, policy_version = 0;
  uint32_t optimizer_steps = 0;
  std::map<std::string, double> metrics;
};

struct SessionStatus {
  std::string id;
  bool active = false;
  uint64_t policy_version = 0;
  uint64_t optimizer_steps = 0;
  uint64_t train_calls = 0;
  std::string error;
};

struct PolicyWeights {
  std::map<std::string, at::Tensor> tensors;  // HF names, CPU, LoRA merged
  uint64_t version = 0;
};

class LearnerCore {
 public:
  // A core on one process.
  LearnerCore();
  // A core that is one rank of `world` (not owned; must outlive the core).
  explicit LearnerCore(train::World* world);
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
                                             double temperature);
  absl::StatusOr<TrainStats> TrainPreference(const std::string& session,
                                             const std::vector<PreferenceExample>& batch);
  absl::StatusOr<TrainStats> TrainSft(const std::string& session,
                                      const std::vector<SftExample>& batch);
  absl::StatusOr<TrainStats> TrainUnpaired(const std::string& session,
                                           const std::vector<UnpairedExample>& batch);
  absl::StatusOr<TrainStats> TrainRanked(const std::string& session,
                                         const std::vector<RankedGroup>& batch);
  // The policy weights at an optimizer-step boundary, in `dtype`.
  absl::StatusOr<PolicyWeights> Weights(const std::string& session, c10::ScalarType dtype);
  absl::StatusOr<uint64_t> SaveCheckpoint(const std::string& session, const std::string& path,
                                          bool weights_only, bool overwrite);
  absl::StatusOr<uint64_t> LoadCheckpoint(const std::string& session, const std::string& path,
                                          bool weights_only);
  absl::StatusOr<uint64_t> EndSession(const std::string& session);
  std::optional<SessionStatus> Status() const;
  // The active session's model config, if any.
  std::optional<model::ModelConfig> ModelConfigOf() const;

 private:
  struct Session;
  absl::StatusOr<Session*> Find(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<SessionStatus> StatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<train::World> own_world_;
  train::World* world_;
  mutable absl::Mutex mu_;
  std::unique_ptr<Session> session_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> training_{false};
};

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_H_
