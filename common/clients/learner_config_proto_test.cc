// TrainingConfigFromOptions is the inverse of SessionOptionsFromProto (the learner's reader):
// options sent through the API come back as the same options on the learner's side.
#include "common/clients/learner_config_proto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "common/api/learner_algorithm_kind.h"
#include "google/protobuf/util/message_differencer.h"

namespace plumb::clients {
namespace {

using learner::Algorithm;
using learner::SessionOptions;
using ::testing::HasSubstr;

// Float on the wire: values chosen exactly representable, so equality is exact.
SessionOptions Base(Algorithm algorithm) {
  SessionOptions o;
  o.algorithm = algorithm;
  o.optimizer.lr = 0.25;
  o.optimizer.beta1 = 0.5;
  o.optimizer.beta2 = 0.875;
  o.optimizer.eps = 0.0078125;
  o.optimizer.weight_decay = 0.125;
  o.schedule = {.kind = "cosine", .warmup_steps = 3, .min_lr_ratio = 0.25};
  o.total_steps = 100;
  o.max_grad_norm = 2.0;
  o.micro_batch_size = 4;
  o.max_sequence_length = 64;
  o.seed = 99;
  o.bf16_mixed = true;
  o.lora = model::LoraOptions{.rank = 4, .alpha = 8, .target_modules = {"q_proj", "o_proj"}};
  return o;
}

void ExpectCommonEqual(const SessionOptions& a, const SessionOptions& b) {
  EXPECT_EQ(a.algorithm, b.algorithm);
  EXPECT_EQ(a.optimizer.lr, b.optimizer.lr);
  EXPECT_EQ(a.optimizer.beta1, b.optimizer.beta1);
  EXPECT_EQ(a.optimizer.beta2, b.optimizer.beta2);
  EXPECT_EQ(a.optimizer.eps, b.optimizer.eps);
  EXPECT_EQ(a.optimizer.weight_decay, b.optimizer.weight_decay);
  EXPECT_EQ(a.schedule.kind, b.schedule.kind);
  EXPECT_EQ(a.schedule.warmup_steps, b.schedule.warmup_steps);
  EXPECT_EQ(a.schedule.min_lr_ratio, b.schedule.min_lr_ratio);
  EXPECT_EQ(a.total_steps, b.total_steps);
  EXPECT_EQ(a.max_grad_norm, b.max_grad_norm);
  EXPECT_EQ(a.gradient_accumulation_steps, b.gradient_accumulation_steps);
  EXPECT_EQ(a.micro_batch_size, b.micro_batch_size);
  EXPECT_EQ(a.max_sequence_length, b.max_sequence_length);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.max_policy_lag, b.max_policy_lag);
  EXPECT_EQ(a.bf16_mixed, b.bf16_mixed);
  EXPECT_EQ(a.dtype, b.dtype);
  ASSERT_EQ(a.lora.has_value(), b.lora.has_value());
  if (a.lora) {
    EXPECT_EQ(a.lora->rank, b.lora->rank);
    EXPECT_EQ(a.lora->alpha, b.lora->alpha);
    EXPECT_EQ(a.lora->target_modules, b.lora->target_modules);
  }
}

SessionOptions RoundTrip(const SessionOptions& o) {
  absl::StatusOr<v1::TrainingConfig> config = TrainingConfigFromOptions(o);
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<SessionOptions> back = SessionOptionsFromProto(*config);
  EXPECT_TRUE(back.ok()) << back.status() << "\n" << config->DebugString();
  return back.value_or(SessionOptions());
}

TEST(LearnerConfigProtoTest, PpoOptionsComeBackTheSame) {
  SessionOptions o = Base(Algorithm::kPpo);
  learner::PpoOptions& p = o.ppo;
  p.clip_low = 0.125;
  p.clip_high = 0.25;
  p.dual_clip = 3.0;
  p.value_clip = std::nullopt;
  p.gamma = 0.5;
  p.lambda = 0.75;
  p.kl_estimator = algorithms::KlEstimator::kK3;
  p.kl_in_loss = true;
  p.kl_coef = 0.0625;
  p.kl_target = 6.0;
  p.kl_horizon = 500;
  p.epochs = 3;
  p.minibatch_size = 8;
  p.value_loss_coef = 0.5;
  p.entropy_coef = 0.015625;
  p.whiten_advantages = false;
  p.aggregation = learner::LossAggregation::kTokenSumNorm;
  p.shaping = {
      .reward_clip = 5.0, .no_eos_penalty = -1.0, .reward_whitening = learner::Whitening::kMeanStd};
  p.early_stop_kl = 0.5;
  p.separate_critic = true;
  p.critic_learning_rate = 0.5;
  p.recompute_behavior_logprobs = true;
  p.tis_cap = 3.0;
  o.gradient_checkpointing = true;
  o.value_path = "critic";
  o.max_policy_lag = 2;
  const SessionOptions b = RoundTrip(o);
  ExpectCommonEqual(o, b);
  EXPECT_EQ(b.ppo.clip_low, p.clip_low);
  EXPECT_EQ(b.ppo.clip_high, p.clip_high);
  EXPECT_EQ(b.ppo.dual_clip, p.dual_clip);
  EXPECT_EQ(b.ppo.value_clip, p.value_clip);
  EXPECT_EQ(b.ppo.gamma, p.gamma);
  EXPECT_EQ(b.ppo.lambda, p.lambda);
  EXPECT_EQ(b.ppo.kl_estimator, p.kl_estimator);
  EXPECT_EQ(b.ppo.kl_in_loss, p.kl_in_loss);
  EXPECT_EQ(b.ppo.kl_coef, p.kl_coef);
  EXPECT_EQ(b.ppo.kl_target, p.kl_target);
  EXPECT_EQ(b.ppo.kl_horizon, p.kl_horizon);
  EXPECT_EQ(b.ppo.epochs, p.epochs);
  EXPECT_EQ(b.ppo.minibatch_size, p.minibatch_size);
  EXPECT_EQ(b.ppo.value_loss_coef, p.value_loss_coef);
  EXPECT_EQ(b.ppo.entropy_coef, p.entropy_coef);
  EXPECT_EQ(b.ppo.whiten_advantages, p.whiten_advantages);
  EXPECT_EQ(b.ppo.aggregation, p.aggregation);
  EXPECT_EQ(b.ppo.shaping.reward_clip, p.shaping.reward_clip);
  EXPECT_EQ(b.ppo.shaping.no_eos_penalty, p.shaping.no_eos_penalty);
  EXPECT_EQ(b.ppo.shaping.reward_whitening, p.shaping.reward_whitening);
  EXPECT_EQ(b.ppo.early_stop_kl, p.early_stop_kl);
  EXPECT_EQ(b.ppo.separate_critic, p.separate_critic);
  EXPECT_EQ(b.ppo.critic_learning_rate, p.critic_learning_rate);
  EXPECT_TRUE(b.ppo.recompute_behavior_logprobs);
  EXPECT_EQ(b.ppo.tis_cap, std::optional<double>(3.0));
  EXPECT_TRUE(b.gradient_checkpointing);
}

TEST(LearnerConfigProtoTest, CriticFreeOptionsComeBackTheSame) {
  for (Algorithm algorithm : {Algorithm::kGrpo, Algorithm::kRloo, Algorithm::kReinforce}) {
    SessionOptions o = Base(algorithm);
    learner::CriticFreeOptions& c = o.critic_free;
    if (algorithm != Algorithm::kReinforce) {
      c.clip_low = c.clip_high = 0.25;
      c.epochs = 2;
      c.minibatch_size = 4;
    } else {
      c.clip_low = c.clip_high = std::nullopt;
      c.baseline = learner::BaselineKind::kBatchMean;
      c.baseline_decay = 0.5;
    }
    c.kl = {.estimator = algorithms::KlEstimator::kK2, .in_loss = true, .coef = 0.125};
    c.scale_by_group_std = algorithm != Algorithm::kGrpo;  // GRPO: Dr. GRPO's unscaled variant
    if (algorithm != Algorithm::kGrpo) c.advantage_whitening = learner::Whitening::kStdOnly;
    c.aggregation = learner::LossAggregation::kTokenSumNorm;
    c.shaping.reward_clip = 2.0;
    const SessionOptions b = RoundTrip(o);
    ExpectCommonEqual(o, b);
    EXPECT_EQ(b.critic_free.clip_low, c.clip_low);
    EXPECT_EQ(b.critic_free.clip_high, c.clip_high);
    EXPECT_EQ(b.critic_free.epochs, c.epochs);
    EXPECT_EQ(b.critic_free.minibatch_size, c.minibatch_size);
    EXPECT_EQ(b.critic_free.kl.estimator, c.kl.estimator);
    EXPECT_EQ(b.critic_free.kl.in_loss, c.kl.in_loss);
    EXPECT_EQ(b.critic_free.kl.coef, c.kl.coef);
    if (algorithm == Algorithm::kGrpo) {
      EXPECT_EQ(b.critic_free.scale_by_group_std, c.scale_by_group_std);
    } else {
      EXPECT_EQ(b.critic_free.advantage_whitening, c.advantage_whitening);
    }
    if (algorithm == Algorithm::kReinforce) {
      EXPECT_EQ(b.critic_free.baseline, c.baseline);
      EXPECT_EQ(b.critic_free.baseline_decay, c.baseline_decay);
    }
    EXPECT_EQ(b.critic_free.aggregation, c.aggregation);
    EXPECT_EQ(b.critic_free.shaping.reward_clip, c.shaping.reward_clip);
  }
}

TEST(LearnerConfigProtoTest, OfflineOptionsComeBackTheSame) {
  {
    SessionOptions o = Base(Algorithm::kDpo);
    o.dpo = {.loss_type = "sigmoid",
             .beta = 0.25,
             .label_smoothing = 0.125,
             .reference_free = true,
             .ipo_log_ratio = "sum"};
    o.dpo_sft_weight = 0.5;
    o.gradient_accumulation_steps = 2;
    const SessionOptions b = RoundTrip(o);
    ExpectCommonEqual(o, b);
    EXPECT_EQ(b.dpo.loss_type, "sigmoid");
    EXPECT_EQ(b.dpo.beta, 0.25);
    EXPECT_EQ(b.dpo.label_smoothing, 0.125);
    EXPECT_TRUE(b.dpo.reference_free);
    EXPECT_EQ(b.dpo.ipo_log_ratio, "sum");
    EXPECT_EQ(b.dpo_sft_weight, 0.5);
  }
  {
    SessionOptions o = Base(Algorithm::kKto);
    o.kto.beta = 0.25;
    o.kto.desirable_weight = 1.5;
    o.kto.undesirable_weight = 0.5;
    o.kto_reference_point = learner::KtoReferencePoint::kZero;
    const SessionOptions b = RoundTrip(o);
    EXPECT_EQ(b.kto.beta, 0.25);
    EXPECT_EQ(b.kto.desirable_weight, 1.5);
    EXPECT_EQ(b.kto.undesirable_weight, 0.5);
    EXPECT_EQ(b.kto_reference_point, learner::KtoReferencePoint::kZero);
  }
  {
    SessionOptions o = Base(Algorithm::kSimpo);
    o.simpo = {.beta = 2.5, .gamma = 0.75, .cpo_alpha = 0.5, .label_smoothing = 0.25};
    const SessionOptions b = RoundTrip(o);
    EXPECT_EQ(b.simpo.beta, 2.5);
    EXPECT_EQ(b.simpo.gamma, 0.75);
    EXPECT_EQ(b.simpo.cpo_alpha, 0.5);
    EXPECT_EQ(b.simpo.label_smoothing, 0.25);
  }
  {
    SessionOptions o = Base(Algorithm::kRrhf);
    o.rrhf.length_penalty = 0.0;
    o.rrhf_sft_weight = 0.5;
    const SessionOptions b = RoundTrip(o);
    EXPECT_EQ(b.rrhf.length_penalty, 0.0);
    EXPECT_EQ(b.rrhf_sft_weight, 0.5);
  }
  {
    SessionOptions o = Base(Algorithm::kOrpo);
    o.orpo_weight = 0.5;
    EXPECT_EQ(RoundTrip(o).orpo_weight, 0.5);
  }
  {
    SessionOptions o = Base(Algorithm::kRewardModel);
    o.reward_model = {.use_margin = true,
                      .margin_scale = 2.0,
                      .center_rewards_coef = 0.25,
                      .epochs = 3,
                      .minibatch_size = 16};
    const SessionOptions b = RoundTrip(o);
    EXPECT_EQ(b.reward_model.epochs, 3);
    EXPECT_EQ(b.reward_model.minibatch_size, 16);
    EXPECT_TRUE(b.reward_model.use_margin);
    EXPECT_EQ(b.reward_model.margin_scale, 2.0);
    EXPECT_EQ(b.reward_model.center_rewards_coef, 0.25);
  }
  {
    SessionOptions o = Base(Algorithm::kRejectionSamplingSft);
    o.rejection_sampling = {.top_n = 2, .min_reward = 0.5, .drop_truncated = true};
    const SessionOptions b = RoundTrip(o);
    EXPECT_EQ(b.rejection_sampling.top_n, 2);
    EXPECT_EQ(b.rejection_sampling.min_reward, 0.5);
    EXPECT_TRUE(b.rejection_sampling.drop_truncated);
  }
  {
    SessionOptions o = Base(Algorithm::kSft);
    o.dtype = "bfloat16";
    o.bf16_mixed = false;
    o.lora.reset();
    ExpectCommonEqual(o, RoundTrip(o));
  }
}

TEST(LearnerConfigProtoTest, ATrainingConfigNamingOnlyTheAlgorithmGivesItsDefaults) {
  const std::vector<std::pair<v1::Algorithm, Algorithm>> algorithms = {
      {v1::ALGORITHM_SFT, Algorithm::kSft},
      {v1::ALGORITHM_REWARD_MODEL, Algorithm::kRewardModel},
      {v1::ALGORITHM_PPO, Algorithm::kPpo},
      {v1::ALGORITHM_GRPO, Algorithm::kGrpo},
      {v1::ALGORITHM_RLOO, Algorithm::kRloo},
      {v1::ALGORITHM_REINFORCE_BASELINE, Algorithm::kReinforce},
      {v1::ALGORITHM_REJECTION_SAMPLING_SFT, Algorithm::kRejectionSamplingSft},
      {v1::ALGORITHM_DPO, Algorithm::kDpo},
      {v1::ALGORITHM_KTO, Algorithm::kKto},
      {v1::ALGORITHM_ORPO, Algorithm::kOrpo},
      {v1::ALGORITHM_SIMPO, Algorithm::kSimpo},
      {v1::ALGORITHM_RRHF, Algorithm::kRrhf},
  };
  for (const auto& [proto, algorithm] : algorithms) {
    v1::TrainingConfig named;
    named.set_algorithm(proto);
    absl::StatusOr<SessionOptions> read = SessionOptionsFromProto(named);
    ASSERT_TRUE(read.ok()) << read.status();
    // Compared through their full TrainingConfigs: every option, explicitly.
    absl::StatusOr<v1::TrainingConfig> a = TrainingConfigFromOptions(*read);
    absl::StatusOr<v1::TrainingConfig> b =
        TrainingConfigFromOptions(SessionOptions::Defaults(algorithm));
    ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
    std::string difference;
    google::protobuf::util::MessageDifferencer differ;
    differ.ReportDifferencesToString(&difference);
    EXPECT_TRUE(differ.Compare(*a, *b)) << v1::Algorithm_Name(proto) << ": " << difference;
  }
}

TEST(LearnerConfigProtoTest, EveryRegisteredKindIsWrittenAndReadBackAsItself) {
  for (const auto& kind : learner::BuiltinLearnerAlgorithms().kinds()) {
    SCOPED_TRACE(kind->name);
    absl::StatusOr<v1::TrainingConfig> config =
        TrainingConfigFromOptions(SessionOptions::Defaults(kind->algorithm));
    ASSERT_TRUE(config.ok()) << config.status();
    absl::StatusOr<SessionOptions> read = SessionOptionsFromProto(*config);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->algorithm, kind->algorithm);
  }
}

TEST(LearnerConfigProtoTest, AnAlgorithmWithoutAWriterIsInvalidArgumentNamingTheOption) {
  SessionOptions o = Base(static_cast<Algorithm>(99));
  absl::StatusOr<v1::TrainingConfig> config = TrainingConfigFromOptions(o);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("options.algorithm: unknown value 99"));
}

TEST(LearnerConfigProtoTest, OptionsTheApiCannotCarryAreRefusedByName) {
  SessionOptions o = Base(Algorithm::kDpo);
  o.dpo.loss_type = "robust";
  absl::StatusOr<v1::TrainingConfig> config = TrainingConfigFromOptions(o);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("options.dpo.loss_type"));
  o = Base(Algorithm::kSft);
  o.device = "cuda:0";
  EXPECT_THAT(TrainingConfigFromOptions(o).status().message(), HasSubstr("options.device"));
}

}  // namespace
}  // namespace plumb::clients
