// The options of a learner training session (the core's form of plumb.v1.TrainingConfig) and
// their validation. Validate() is the one place where ranges are checked: the gRPC adapter only
// converts, and its errors name the TrainingConfig field ("config.ppo.epochs: must be in
// [1, 100]") so that a caller can fix the request it sent.
#ifndef PLUMB_COMMON_API_LEARNER_OPTIONS_H_
#define PLUMB_COMMON_API_LEARNER_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/algorithms/dpo_options.h"
#include "common/algorithms/kl_estimator.h"
#include "common/algorithms/kto_options.h"
#include "common/algorithms/rrhf_options.h"
#include "common/algorithms/simpo_options.h"
#include "common/model/lora_options.h"
#include "common/model/model_config.h"
#include "common/train/lr_schedule.h"
#include "common/train/optimizer_options.h"

namespace plumb::learner {

class LearnerAlgorithmRegistry;

// A session's algorithm: the identity of its registered kind (learner_algorithm_kind.h), which
// holds everything that differs between algorithms. The type is open: a kind registered outside
// this list (a test's) takes a value beyond kRrhf.
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
  // A critic network of its own (initialised from SessionOptions::value_path) with its own AdamW
  // instead of the policy's value head.
  bool separate_critic = false;
  // Recompute behaviour log-probs with the learner's weights instead of trusting the rollouts'
  // (generator numerics may differ); rollouts without log-probs are always recomputed.
  bool recompute_behavior_logprobs = false;
  std::optional<double> critic_learning_rate;  // unset = the policy's
  // Truncated importance sampling (with recompute_behavior_logprobs): each token's advantage is
  // weighted by min(exp(recomputed - rollout log-prob), tis_cap), correcting for rollouts sampled
  // by older weights. Unset = off.
  std::optional<double> tis_cap;
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

struct RewardModelTrainingOptions {
  bool use_margin = false;
  double margin_scale = 1.0;
  double center_rewards_coef = 0.0;
  int epochs = 1;          // passes over each Train call's comparisons
  int minibatch_size = 0;  // comparisons (pairs or groups) per optimizer step; 0 = the call's all
  // The reward head's readout; unset = the checkpoint's head's, or last token for a new head.
  std::optional<model::RewardReadout> readout;
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
  RewardModelTrainingOptions reward_model;
  RejectionSamplingOptions rejection_sampling;
  int gradient_accumulation_steps = 1;     // offline algorithms: Train calls per step
  std::optional<uint64_t> max_policy_lag;  // on-policy algorithms
  train::OptimizerOptions optimizer;
  // Constant unless set, as TrainingConfig's default (train::ScheduleOptions defaults to cosine).
  train::ScheduleOptions schedule{.kind = "constant"};
  int64_t total_steps = 0;  // decay horizon of the schedule
  double max_grad_norm = 1.0;
  int micro_batch_size = 0;         // 0 = a whole minibatch per forward pass
  int64_t max_sequence_length = 0;  // 0 = the model's context
  uint64_t seed = 0;
  bool bf16_mixed = false;
  bool gradient_checkpointing = false;  // recompute activations in the backward pass
  std::optional<model::LoraOptions> lora;
  std::string policy_path;  // a Hugging Face model folder or a learner checkpoint
  std::string value_path;   // the separate critic's initial weights ("" = the policy's trunk)
  std::string dtype = "float32";
  std::string device = "cpu";

  // The options of a session of `algorithm` that sets nothing else: the defaults learner.proto
  // documents for a TrainingConfig that only names the algorithm (GRPO clips at 0.2 and puts a
  // k3 KL of 0.04 in its sequence-mean loss, DPO's IPO log-ratio is per-token, SimPO's gamma is
  // 0.5, ...). Both the learner's proto reader and clients building options start from these.
  // The kind's defaults (learner_algorithm_kind.h) over SessionOptions{}; an algorithm `kinds`
  // lacks gets none (and Validate refuses it). Without `kinds`: BuiltinLearnerAlgorithms().
  static SessionOptions Defaults(Algorithm algorithm);
  static SessionOptions Defaults(Algorithm algorithm, const LearnerAlgorithmRegistry& kinds);

  // OK when every option is within its documented range (learner_limits.h and learner.proto);
  // else INVALID_ARGUMENT naming the TrainingConfig field, e.g. "config.ppo.epochs: must be in
  // [1, 100]". The algorithm's kind checks its own options first, then the shared ones are.
  absl::Status Validate() const;
  absl::Status Validate(const LearnerAlgorithmRegistry& kinds) const;
};

}  // namespace plumb::learner

#endif  // PLUMB_COMMON_API_LEARNER_OPTIONS_H_
