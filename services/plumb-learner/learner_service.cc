#include "services/plumb-learner/learner_service.h"

#include <grpcpp/grpcpp.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/rpc/grpc_probe.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/raw_stream.h"
#include "common/service/service_host.h"
#include "common/status/status_macros.h"
#include "common/weights/model_service_support.h"
#include "common/weights/weight_stream_sender.h"
#include "plumb/v1/generator.grpc.pb.h"
#include "plumb/v1/reference.grpc.pb.h"
#include "plumb/v1/scorer.grpc.pb.h"

namespace plumb::learner {
namespace {

using Clock = std::chrono::steady_clock;

absl::Status Field(const std::string& name, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat("config.", name, ": ", problem));
}

absl::Status ReadOptimizer(const v1::OptimizerConfig& p, SessionOptions* o) {
  o->optimizer.lr = p.learning_rate() == 0 ? 1e-5 : p.learning_rate();
  if (!(o->optimizer.lr > 0) || !std::isfinite(o->optimizer.lr)) {
    return Field("optimizer.learning_rate", "must be > 0");
  }
  if (p.has_beta1()) o->optimizer.beta1 = p.beta1();
  if (p.has_beta2()) o->optimizer.beta2 = p.beta2();
  if (!(o->optimizer.beta1 >= 0 && o->optimizer.beta1 < 1)) {
    return Field("optimizer.beta1", "must be in [0, 1)");
  }
  if (!(o->optimizer.beta2 >= 0 && o->optimizer.beta2 < 1)) {
    return Field("optimizer.beta2", "must be in [0, 1)");
  }
  if (p.epsilon() != 0) o->optimizer.eps = p.epsilon();
  if (!(p.weight_decay() >= 0)) return Field("optimizer.weight_decay", "must be >= 0");
  o->optimizer.weight_decay = p.weight_decay();
  switch (p.schedule()) {
    case v1::LR_SCHEDULE_LINEAR:
      o->schedule.kind = "linear";
      break;
    case v1::LR_SCHEDULE_COSINE:
      o->schedule.kind = "cosine";
      break;
    default:
      o->schedule.kind = "constant";
  }
  o->schedule.warmup_steps = p.warmup_steps();
  o->schedule.min_lr_ratio = p.min_lr_ratio();
  o->total_steps = p.total_steps();
  o->max_grad_norm = p.has_max_grad_norm() ? p.max_grad_norm() : 1.0;
  if (!(o->max_grad_norm >= 0)) return Field("optimizer.max_grad_norm", "must be >= 0");
  return absl::OkStatus();
}

LossAggregation ReadAggregation(v1::LossAggregation a) {
  switch (a) {
    case v1::LOSS_AGGREGATION_SEQUENCE_MEAN:
      return LossAggregation::kSequenceMean;
    case v1::LOSS_AGGREGATION_TOKEN_SUM_NORM:
      return LossAggregation::kTokenSumNorm;
    default:
      return LossAggregation::kTokenMean;
  }
}

Whitening ReadWhitening(v1::Whitening w, Whitening unset) {
  switch (w) {
    case v1::WHITENING_NONE:
      return Whitening::kNone;
    case v1::WHITENING_MEAN_STD:
      return Whitening::kMeanStd;
    case v1::WHITENING_STD_ONLY:
      return Whitening::kStdOnly;
    default:
      return unset;
  }
}

absl::Status ReadShaping(const std::string& prefix, const v1::RewardShaping& p,
                         RewardShapingOptions* o) {
  if (p.has_reward_clip()) {
    if (!(p.reward_clip() > 0)) return Field(prefix + ".reward_shaping.reward_clip", "must be > 0");
    o->reward_clip = p.reward_clip();
  }
  if (p.has_no_eos_penalty()) {
    if (!std::isfinite(p.no_eos_penalty())) {
      return Field(prefix + ".reward_shaping.no_eos_penalty", "must be finite");
    }
    o->no_eos_penalty = p.no_eos_penalty();
  }
  o->reward_whitening = ReadWhitening(p.reward_whitening(), Whitening::kNone);
  return absl::OkStatus();
}

absl::Status ReadKl(const std::string& prefix, const v1::KlConfig& kl, KlOptions* o) {
  switch (kl.estimator()) {
    case v1::KL_ESTIMATOR_K1:
      o->estimator = algorithms::KlEstimator::kK1;
      break;
    case v1::KL_ESTIMATOR_K2:
      o->estimator = algorithms::KlEstimator::kK2;
      break;
    case v1::KL_ESTIMATOR_K3:
      o->estimator = algorithms::KlEstimator::kK3;
      break;
    default:
      break;  // the algorithm's default, already in *o
  }
  if (kl.placement() == v1::KL_PLACEMENT_LOSS) o->in_loss = true;
  if (kl.placement() == v1::KL_PLACEMENT_REWARD) o->in_loss = false;
  if (kl.has_coef()) o->coef = kl.coef();
  if (!(o->coef >= 0) || !std::isfinite(o->coef)) return Field(prefix + ".kl.coef", "must be >= 0");
  return absl::OkStatus();
}

absl::Status ReadPpo(const v1::PpoConfig& p, PpoOptions* o) {
  const double clip = p.clip_range() == 0 ? 0.2 : p.clip_range();
  if (!(clip > 0 && clip < 1)) return Field("ppo.clip_range", "must be in (0, 1)");
  o->clip_low = p.has_clip_range_low() ? p.clip_range_low() : clip;
  o->clip_high = p.has_clip_range_high() ? p.clip_range_high() : clip;
  if (!(o->clip_low > 0 && o->clip_low < 1))
    return Field("ppo.clip_range_low", "must be in (0, 1)");
  if (!(o->clip_high > 0)) return Field("ppo.clip_range_high", "must be > 0");
  if (p.has_dual_clip()) {
    if (!(p.dual_clip() > 1)) return Field("ppo.dual_clip", "must be > 1");
    o->dual_clip = p.dual_clip();
  }
  if (p.has_value_clip_range()) {
    if (!(p.value_clip_range() >= 0)) return Field("ppo.value_clip_range", "must be >= 0");
    o->value_clip =
        p.value_clip_range() == 0 ? std::nullopt : std::optional<double>(p.value_clip_range());
  }
  if (p.has_gamma()) o->gamma = p.gamma();
  if (p.has_gae_lambda()) o->lambda = p.gae_lambda();
  if (!(o->gamma >= 0 && o->gamma <= 1)) return Field("ppo.gamma", "must be in [0, 1]");
  if (!(o->lambda >= 0 && o->lambda <= 1)) return Field("ppo.gae_lambda", "must be in [0, 1]");
  KlOptions kl;
  kl.coef = o->kl_coef;
  RETURN_IF_ERROR(ReadKl("ppo", p.kl(), &kl));
  o->kl_estimator = kl.estimator;
  o->kl_in_loss = kl.in_loss;
  o->kl_coef = kl.coef;
  if (p.kl().has_adaptive()) {
    if (!(p.kl().adaptive().target() > 0)) return Field("ppo.kl.adaptive.target", "must be > 0");
    if (p.kl().adaptive().horizon() <= 0) return Field("ppo.kl.adaptive.horizon", "must be > 0");
    o->kl_target = p.kl().adaptive().target();
    o->kl_horizon = p.kl().adaptive().horizon();
  }
  o->epochs = p.epochs() == 0 ? 4 : p.epochs();
  if (o->epochs < 0) return Field("ppo.epochs", "must be >= 0");
  if (p.minibatch_size() < 0) return Field("ppo.minibatch_size", "must be >= 0");
  o->minibatch_size = p.minibatch_size();
  if (p.has_value_loss_coef()) o->value_loss_coef = p.value_loss_coef();
  if (!(o->value_loss_coef >= 0)) return Field("ppo.value_loss_coef", "must be >= 0");
  if (!std::isfinite(p.entropy_coef())) return Field("ppo.entropy_coef", "must be finite");
  o->entropy_coef = p.entropy_coef();
  o->whiten_advantages = p.advantage_whitening() != v1::WHITENING_NONE;
  if (p.advantage_whitening() == v1::WHITENING_STD_ONLY) {
    return Field("ppo.advantage_whitening", "PPO whitens with MEAN_STD or NONE");
  }
  RETURN_IF_ERROR(ReadShaping("ppo", p.reward_shaping(), &o->shaping));
  o->aggregation = ReadAggregation(p.loss_aggregation());
  if (p.critic() == v1::CRITIC_KIND_SEPARATE) {
    return absl::UnimplementedError(
        "config.ppo.critic: CRITIC_KIND_SEPARATE is not supported; the critic is the policy's "
        "value head (CRITIC_KIND_VALUE_HEAD)");
  }
  if (p.has_critic_learning_rate()) {
    return absl::UnimplementedError(
        "config.ppo.critic_learning_rate: the value head shares the policy's optimizer");
  }
  if (p.has_early_stop_kl()) {
    if (!(p.early_stop_kl() > 0)) return Field("ppo.early_stop_kl", "must be > 0");
    o->early_stop_kl = p.early_stop_kl();
  }
  return absl::OkStatus();
}

absl::Status ReadClip(const std::string& prefix, float range, const std::optional<float>& low,
                      const std::optional<float>& high, CriticFreeOptions* o) {
  if (!(range > 0 && range < 1)) return Field(prefix + ".clip_range", "must be in (0, 1)");
  o->clip_low = low.value_or(range);
  o->clip_high = high.value_or(range);
  if (!(*o->clip_low > 0 && *o->clip_low < 1)) {
    return Field(prefix + ".clip_range_low", "must be in (0, 1)");
  }
  if (!(*o->clip_high > 0)) return Field(prefix + ".clip_range_high", "must be > 0");
  return absl::OkStatus();
}

absl::Status ReadEpochs(const std::string& prefix, int epochs, int minibatch,
                        CriticFreeOptions* o) {
  if (epochs < 0) return Field(prefix + ".epochs", "must be >= 0");
  if (minibatch < 0) return Field(prefix + ".minibatch_size", "must be >= 0");
  o->epochs = epochs == 0 ? 1 : epochs;
  o->minibatch_size = minibatch;
  return absl::OkStatus();
}

absl::Status ReadGrpo(const v1::GrpoConfig& p, CriticFreeOptions* o) {
  RETURN_IF_ERROR(ReadClip(
      "grpo", p.clip_range() == 0 ? 0.2f : p.clip_range(),
      p.has_clip_range_low() ? std::optional<float>(p.clip_range_low()) : std::nullopt,
      p.has_clip_range_high() ? std::optional<float>(p.clip_range_high()) : std::nullopt, o));
  o->kl.estimator = algorithms::KlEstimator::kK3;
  o->kl.in_loss = true;
  o->kl.coef = 0.04;
  RETURN_IF_ERROR(ReadKl("grpo", p.kl(), &o->kl));
  RETURN_IF_ERROR(ReadEpochs("grpo", p.epochs(), p.minibatch_size(), o));
  o->scale_by_group_std = !p.has_scale_by_group_std() || p.scale_by_group_std();
  o->aggregation = ReadAggregation(p.loss_aggregation());
  return ReadShaping("grpo", p.reward_shaping(), &o->shaping);
}

absl::Status ReadRloo(const v1::RlooConfig& p, CriticFreeOptions* o) {
  if (p.has_clip_range()) {
    RETURN_IF_ERROR(ReadClip("rloo", p.clip_range(), std::nullopt, std::nullopt, o));
  }
  RETURN_IF_ERROR(ReadKl("rloo", p.kl(), &o->kl));
  RETURN_IF_ERROR(ReadEpochs("rloo", p.epochs(), p.minibatch_size(), o));
  o->advantage_whitening = ReadWhitening(p.advantage_whitening(), Whitening::kNone);
  o->aggregation = ReadAggregation(p.loss_aggregation());
  return ReadShaping("rloo", p.reward_shaping(), &o->shaping);
}

absl::Status ReadReinforce(const v1::ReinforceConfig& p, CriticFreeOptions* o) {
  RETURN_IF_ERROR(ReadKl("reinforce", p.kl(), &o->kl));
  switch (p.baseline()) {
    case v1::BASELINE_KIND_BATCH_MEAN:
      o->baseline = BaselineKind::kBatchMean;
      break;
    case v1::BASELINE_KIND_NONE:
      o->baseline = BaselineKind::kNone;
      break;
    default:
      o->baseline = BaselineKind::kMovingAverage;
  }
  if (p.has_baseline_decay()) o->baseline_decay = p.baseline_decay();
  if (!(o->baseline_decay >= 0 && o->baseline_decay < 1)) {
    return Field("reinforce.baseline_decay", "must be in [0, 1)");
  }
  o->advantage_whitening = ReadWhitening(p.advantage_whitening(), Whitening::kNone);
  o->aggregation = ReadAggregation(p.loss_aggregation());
  return ReadShaping("reinforce", p.reward_shaping(), &o->shaping);
}

absl::Status ReadDpo(v1::Algorithm algorithm, const v1::DpoConfig& p, algorithms::DpoOptions* o) {
  o->beta = p.has_beta() ? p.beta() : 0.1;
  if (!(o->beta > 0)) return Field("dpo.beta", "must be > 0");
  switch (p.loss_type()) {
    case v1::DPO_LOSS_TYPE_IPO:
      o->loss_type = "ipo";
      break;
    case v1::DPO_LOSS_TYPE_HINGE:
      o->loss_type = "hinge";
      break;
    case v1::DPO_LOSS_TYPE_SIGMOID:
      o->loss_type = "sigmoid";
      break;
    default:
      o->loss_type = algorithm == v1::ALGORITHM_IPO ? "ipo" : "sigmoid";
  }
  if (algorithm == v1::ALGORITHM_IPO && o->loss_type != "ipo") {
    return Field("dpo.loss_type", "ALGORITHM_IPO takes the IPO loss");
  }
  if (algorithm == v1::ALGORITHM_CDPO && o->loss_type != "sigmoid") {
    return Field("dpo.loss_type", "ALGORITHM_CDPO takes the sigmoid loss");
  }
  o->label_smoothing = p.label_smoothing();
  if (algorithm == v1::ALGORITHM_CDPO && o->label_smoothing == 0) o->label_smoothing = 0.1;
  if (!(o->label_smoothing >= 0 && o->label_smoothing < 0.5)) {
    return Field("dpo.label_smoothing", "must be in [0, 0.5)");
  }
  o->reference_free = p.reference_free();
  o->ipo_log_ratio = (!p.has_ipo_length_normalize() || p.ipo_length_normalize()) ? "mean" : "sum";
  return algorithms::ValidateDpoOptions(*o);
}

}  // namespace

absl::StatusOr<SessionOptions> SessionOptionsFromProto(const v1::TrainingConfig& c) {
  SessionOptions o;
  using Config = v1::TrainingConfig;
  Config::AlgorithmConfigCase expected = Config::ALGORITHM_CONFIG_NOT_SET;
  switch (c.algorithm()) {
    case v1::ALGORITHM_UNSPECIFIED:
      return Field("algorithm", "is required");
    case v1::ALGORITHM_SFT:
      o.algorithm = Algorithm::kSft;
      expected = Config::kSft;
      break;
    case v1::ALGORITHM_REWARD_MODEL: {
      o.algorithm = Algorithm::kRewardModel;
      expected = Config::kRewardModel;
      const v1::RewardModelConfig& r = c.reward_model();
      o.reward_model.use_margin = r.use_margin();
      if (r.has_margin_scale()) o.reward_model.margin_scale = r.margin_scale();
      if (!(o.reward_model.margin_scale >= 0) || !std::isfinite(o.reward_model.margin_scale)) {
        return Field("reward_model.margin_scale", "must be >= 0");
      }
      o.reward_model.center_rewards_coef = r.center_rewards_coef();
      if (!(o.reward_model.center_rewards_coef >= 0)) {
        return Field("reward_model.center_rewards_coef", "must be >= 0");
      }
      break;
    }
    case v1::ALGORITHM_PPO:
      o.algorithm = Algorithm::kPpo;
      expected = Config::kPpo;
      RETURN_IF_ERROR(ReadPpo(c.ppo(), &o.ppo));
      break;
    case v1::ALGORITHM_GRPO:
      o.algorithm = Algorithm::kGrpo;
      expected = Config::kGrpo;
      RETURN_IF_ERROR(ReadGrpo(c.grpo(), &o.critic_free));
      break;
    case v1::ALGORITHM_RLOO:
      o.algorithm = Algorithm::kRloo;
      expected = Config::kRloo;
      RETURN_IF_ERROR(ReadRloo(c.rloo(), &o.critic_free));
      break;
    case v1::ALGORITHM_REINFORCE_BASELINE:
      o.algorithm = Algorithm::kReinforce;
      expected = Config::kReinforce;
      RETURN_IF_ERROR(ReadReinforce(c.reinforce(), &o.critic_free));
      break;
    case v1::ALGORITHM_REJECTION_SAMPLING_SFT: {
      o.algorithm = Algorithm::kRejectionSamplingSft;
      expected = Config::kRejectionSampling;
      const v1::RejectionSamplingConfig& r = c.rejection_sampling();
      if (r.top_n_per_prompt() < 0)
        return Field("rejection_sampling.top_n_per_prompt", "must be >= 0");
      o.rejection_sampling.top_n = r.top_n_per_prompt() == 0 ? 1 : r.top_n_per_prompt();
      if (r.has_min_reward()) o.rejection_sampling.min_reward = r.min_reward();
      o.rejection_sampling.drop_truncated = r.drop_truncated();
      break;
    }
    case v1::ALGORITHM_DPO:
    case v1::ALGORITHM_IPO:
    case v1::ALGORITHM_CDPO:
      o.algorithm = Algorithm::kDpo;
      expected = Config::kDpo;
      RETURN_IF_ERROR(ReadDpo(c.algorithm(), c.dpo(), &o.dpo));
      o.dpo_sft_weight = c.dpo().sft_weight();
      if (!(o.dpo_sft_weight >= 0)) return Field("dpo.sft_weight", "must be >= 0");
      break;
    case v1::ALGORITHM_KTO: {
      o.algorithm = Algorithm::kKto;
      expected = Config::kKto;
      const v1::KtoConfig& k = c.kto();
      if (k.has_beta()) o.kto.beta = k.beta();
      if (k.has_desirable_weight()) o.kto.desirable_weight = k.desirable_weight();
      if (k.has_undesirable_weight()) o.kto.undesirable_weight = k.undesirable_weight();
      if (!(o.kto.beta > 0)) return Field("kto.beta", "must be > 0");
      if (!(o.kto.desirable_weight > 0)) return Field("kto.desirable_weight", "must be > 0");
      if (!(o.kto.undesirable_weight > 0)) return Field("kto.undesirable_weight", "must be > 0");
      o.kto_reference_point = k.reference_point() == v1::KTO_REFERENCE_POINT_ZERO
                                  ? KtoReferencePoint::kZero
                                  : KtoReferencePoint::kBatchMismatched;
      RETURN_IF_ERROR(algorithms::ValidateKtoOptions(o.kto));
      break;
    }
    case v1::ALGORITHM_ORPO:
      o.algorithm = Algorithm::kOrpo;
      expected = Config::kOrpo;
      if (c.orpo().has_odds_ratio_weight()) o.orpo_weight = c.orpo().odds_ratio_weight();
      if (!(o.orpo_weight > 0) || !std::isfinite(o.orpo_weight)) {
        return Field("orpo.odds_ratio_weight", "must be > 0");
      }
      break;
    case v1::ALGORITHM_SIMPO: {
      o.algorithm = Algorithm::kSimpo;
      expected = Config::kSimpo;
      const v1::SimpoConfig& p = c.simpo();
      o.simpo.beta = p.has_beta() ? p.beta() : 2.0;
      o.simpo.gamma = p.has_gamma() ? p.gamma() : 0.5;
      o.simpo.label_smoothing = p.label_smoothing();
      o.simpo.cpo_alpha = p.sft_weight();
      if (!(o.simpo.beta > 0)) return Field("simpo.beta", "must be > 0");
      if (!(o.simpo.gamma >= 0)) return Field("simpo.gamma", "must be >= 0");
      if (!(o.simpo.label_smoothing >= 0 && o.simpo.label_smoothing < 0.5)) {
        return Field("simpo.label_smoothing", "must be in [0, 0.5)");
      }
      if (!(o.simpo.cpo_alpha >= 0)) return Field("simpo.sft_weight", "must be >= 0");
      RETURN_IF_ERROR(algorithms::ValidateSimpoOptions(o.simpo));
      break;
    }
    case v1::ALGORITHM_RRHF: {
      o.algorithm = Algorithm::kRrhf;
      expected = Config::kRrhf;
      const v1::RrhfConfig& p = c.rrhf();
      if (p.has_sft_weight()) o.rrhf_sft_weight = p.sft_weight();
      if (!(o.rrhf_sft_weight >= 0)) return Field("rrhf.sft_weight", "must be >= 0");
      o.rrhf.length_penalty = (!p.has_length_normalize() || p.length_normalize()) ? 1.0 : 0.0;
      RETURN_IF_ERROR(algorithms::ValidateRrhfOptions(o.rrhf));
      break;
    }
    default:
      return Field("algorithm", absl::StrCat("unknown value ", c.algorithm()));
  }
  if (c.algorithm_config_case() != Config::ALGORITHM_CONFIG_NOT_SET &&
      c.algorithm_config_case() != expected) {
    return Field("algorithm_config", "holds another algorithm's config");
  }
  RETURN_IF_ERROR(ReadOptimizer(c.optimizer(), &o));
  if (c.optimizer().gradient_accumulation_steps() < 0) {
    return Field("optimizer.gradient_accumulation_steps", "must be >= 0");
  }
  o.gradient_accumulation_steps = std::max(1, c.optimizer().gradient_accumulation_steps());
  if (c.has_lora()) {
    if (c.lora().rank() < 1) return Field("lora.rank", "must be >= 1");
    if (c.lora().dropout() != 0) {
      return absl::UnimplementedError(
          "config.lora.dropout: adapter dropout is not supported; "
          "leave it 0");
    }
    if (c.lora().publish_adapters_only()) {
      return absl::UnimplementedError(
          "config.lora.publish_adapters_only: the model services load merged weights only; "
          "leave it false (the learner merges the adapters when it publishes)");
    }
    model::LoraOptions lora;
    lora.rank = c.lora().rank();
    lora.alpha = c.lora().has_alpha() ? c.lora().alpha() : c.lora().rank();
    if (c.lora().target_modules_size() > 0) {
      lora.target_modules.assign(c.lora().target_modules().begin(),
                                 c.lora().target_modules().end());
    } else {
      lora.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj"};
    }
    o.lora = lora;
  }
  switch (c.precision()) {
    case v1::PRECISION_UNSPECIFIED:
    case v1::PRECISION_FP32:
      break;
    case v1::PRECISION_BF16_MIXED:
      o.bf16_mixed = true;
      break;
    case v1::PRECISION_BF16:
      o.dtype = "bfloat16";
      break;
    case v1::PRECISION_FP16_MIXED:
      return Field("precision",
                   "PRECISION_FP16_MIXED needs a CUDA device; this learner runs "
                   "on the CPU (use PRECISION_BF16_MIXED)");
    default:
      return Field("precision", absl::StrCat("unknown value ", c.precision()));
  }
  if (c.micro_batch_size() < 0) return Field("micro_batch_size", "must be >= 0");
  o.micro_batch_size = c.micro_batch_size();
  if (c.max_sequence_length() < 0) return Field("max_sequence_length", "must be >= 0");
  o.max_sequence_length = c.max_sequence_length();
  if (c.has_max_policy_lag()) o.max_policy_lag = c.max_policy_lag();
  o.seed = c.seed();
  RETURN_IF_ERROR(o.Validate());
  return o;
}

LearnerService::LearnerService(LearnerCore* core, metrics::Registry* registry,
                               Replicator* replicator)
    : core_(core), replicator_(replicator) {
  requests_ = registry
                  ->AddCounter("plumb_learner_requests_total", "Learner RPCs by result code.",
                               {"rpc", "code"})
                  .value();
  step_seconds_ = &registry->AddHistogram("plumb_learner_train_seconds", "Train call duration.")
                       .value()
                       ->WithLabels({});
  losses_ = registry->AddGauge("plumb_learner_loss", "Loss terms of the last Train call.", {"term"})
                .value();
  auto gauge = [&](const char* name, const char* help) {
    return &registry->AddGauge(name, help).value()->WithLabels({});
  };
  kl_ = gauge("plumb_learner_kl", "Mean sequence KL to the reference in the last PPO batch.");
  reward_ = gauge("plumb_learner_reward_mean", "Mean reward of the last experience batch.");
  grad_norm_ = gauge("plumb_learner_grad_norm", "Gradient norm before clipping, last step.");
  version_ = gauge("plumb_learner_policy_version", "Policy version of the active session.");
  sync_seconds_ = &registry
                       ->AddHistogram("plumb_learner_weight_sync_seconds",
                                      "Seconds to publish weights to one target.")
                       .value()
                       ->WithLabels({});
  sync_bytes_ = &registry
                     ->AddCounter("plumb_learner_weight_sync_bytes_total",
                                  "Weight bytes published to targets.")
                     .value()
                     ->WithLabels({});
}

std::shared_ptr<grpc::Channel> LearnerService::ChannelTo(const std::string& endpoint) {
  absl::MutexLock lock(&channels_mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[endpoint];
  if (channel == nullptr) {
    channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  }
  return channel;
}

absl::Status LearnerService::Replicated(Command command, const std::string& id,
                                        const google::protobuf::Message& request,
                                        const std::function<void()>& local) {
  if (replicator_ == nullptr) {
    local();
    return absl::OkStatus();
  }
  return replicator_->Run(command, id, &request, local);
}

void LearnerService::NoteLostRank(const absl::Status& status) {
  if (core_->world_size() == 1 || status.code() != absl::StatusCode::kUnavailable) return;
  absl::MutexLock lock(&mu_);
  if (failed_.empty()) failed_ = std::string(status.message());
}

absl::Status LearnerService::CheckNotFailed() {
  absl::MutexLock lock(&mu_);
  if (failed_.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the session FAILED: ", failed_,
                   " (restart every rank, then StartSession or LoadCheckpoint)"));
}

void LearnerService::RecordStats(const TrainStats& stats) {
  for (const auto& [term, value] : stats.losses) losses_->WithLabels({term}).Set(value);
  if (stats.kl.has_value()) kl_->Set(*stats.kl);
  if (stats.reward_mean.has_value()) reward_->Set(*stats.reward_mean);
  grad_norm_->Set(stats.grad_norm);
  version_->Set(static_cast<double>(stats.policy_version));
  step_seconds_->Observe(stats.seconds);
}

grpc::Status LearnerService::StartSession(grpc::ServerContext* /*context*/,
                                          const v1::StartSessionRequest* request,
                                          v1::StartSessionResponse* response) {
  auto answer = [&](absl::Status status) {
    requests_->WithLabels({"StartSession", absl::StatusCodeToString(status.code())}).Increment();
    return rpc::ToGrpcStatus(status);
  };
  // Refuse a bad config here, before any other rank hears of it.
  absl::StatusOr<SessionOptions> options = SessionOptionsFromProto(request->config());
  if (!options.ok()) return answer(options.status());
  // Every rank gets the same id and the same resolved seed.
  v1::StartSessionRequest replicated = *request;
  std::random_device random;
  if (replicated.config().seed() == 0) {
    replicated.mutable_config()->set_seed((static_cast<uint64_t>(random()) << 32) | random());
  }
  const std::string id = absl::StrFormat("s-%08x%08x", random(), random());
  bool created = false;
  absl::StatusOr<SessionStatus> status = absl::InternalError("not run");
  const absl::Status sent = Replicated(Command::kStartSession, id, replicated, [&] {
    status = RunStartSession(*core_, replicated, id, &created);
  });
  NoteLostRank(sent);
  if (!sent.ok()) return answer(sent);
  NoteLostRank(status.status());
  if (!status.ok()) return answer(status.status());
  {
    absl::MutexLock lock(&mu_);
    failed_.clear();
  }
  if (created) {
    absl::MutexLock lock(&mu_);
    config_ = replicated.config();
    last_sequence_ = 0;
    last_response_.Clear();
  }
  response->set_session_id(status->id);
  response->set_created(created);
  response->set_policy_version(status->policy_version);
  if (std::optional<model::ModelConfig> config = core_->ModelConfigOf()) {
    response->mutable_model()->set_architecture("llama");
    response->mutable_model()->set_vocab_size(static_cast<int32_t>(config->vocab_size));
    response->mutable_model()->set_context_length(
        static_cast<int32_t>(config->max_position_embeddings));
    response->mutable_model()->set_policy_version(status->policy_version);
  }
  version_->Set(static_cast<double>(status->policy_version));
  return answer(absl::OkStatus());
}

grpc::Status LearnerService::Train(grpc::ServerContext* context, const v1::TrainRequest* request,
                                   v1::TrainResponse* response) {
  auto answer = [&](absl::Status status) {
    requests_->WithLabels({"Train", absl::StatusCodeToString(status.code())}).Increment();
    return rpc::ToGrpcStatus(status);
  };
  if (request->sequence() != 0) {
    absl::MutexLock lock(&mu_);
    if (request->sequence() == last_sequence_) {
      *response = last_response_;  // a retry of the last call: not trained again
      return answer(absl::OkStatus());
    }
    if (request->sequence() != last_sequence_ + 1) {
      return answer(absl::FailedPreconditionError(
          absl::StrCat("sequence ", request->sequence(), " does not follow ", last_sequence_)));
    }
  }
  if (absl::Status failed = CheckNotFailed(); !failed.ok()) return answer(failed);
  bool expected = false;
  if (!training_.compare_exchange_strong(expected, true)) {
    return answer(absl::AbortedError("another Train call is running"));
  }
  // The caller's cancellation or deadline abandons the update at its next boundary.
  const CancelPredicate cancelled = [context] {
    return context->IsCancelled() || context->deadline() <= std::chrono::system_clock::now();
  };
  absl::StatusOr<TrainStats> stats = absl::InternalError("not run");
  const absl::Status replicated = Replicated(Command::kTrain, "", *request, [&] {
    stats = RunTrain(*core_, *request, cancelled);
  });
  training_.store(false);
  NoteLostRank(replicated);
  if (!replicated.ok()) return answer(replicated);
  NoteLostRank(stats.status());
  if (stats.status().code() == absl::StatusCode::kCancelled &&
      context->deadline() <= std::chrono::system_clock::now()) {
    return answer(absl::DeadlineExceededError(stats.status().message()));
  }
  if (!stats.ok()) return answer(stats.status());
  v1::TrainStats* out = response->mutable_stats();
  for (const auto& [term, value] : stats->losses) (*out->mutable_losses())[term] = value;
  if (stats->kl) out->set_kl(*stats->kl);
  if (stats->clip_fraction) out->set_clip_fraction(*stats->clip_fraction);
  if (stats->entropy) out->set_entropy(*stats->entropy);
  if (stats->value_error) out->set_value_error(*stats->value_error);
  if (stats->reward_mean) out->set_reward_mean(*stats->reward_mean);
  if (stats->reward_std) out->set_reward_std(*stats->reward_std);
  if (stats->kl_coef) out->set_kl_coef(*stats->kl_coef);
  out->set_grad_norm(stats->grad_norm);
  out->set_learning_rate(stats->learning_rate);
  out->set_tokens(stats->tokens);
  out->set_sequences(stats->sequences);
  out->set_seconds(stats->seconds);
  out->set_policy_version(stats->policy_version);
  out->set_optimizer_steps(stats->optimizer_steps);
  for (const auto& [name, value] : stats->metrics) (*out->mutable_metrics())[name] = value;
  out->set_sequence(request->sequence());
  RecordStats(*stats);
  if (request->sequence() != 0) {
    absl::MutexLock lock(&mu_);
    last_sequence_ = request->sequence();
    last_response_ = *response;
  }
  return answer(absl::OkStatus());
}

namespace {

// Streams `weights` to one endpoint's LoadWeights (`method`, on whichever model service it
// runs) on a raw stream: tensor bytes go to the transport without being copied.
absl::StatusOr<v1::LoadWeightsResponse> StreamTo(const std::shared_ptr<grpc::Channel>& channel,
                                                 const char* method, const PolicyWeights& weights,
                                                 const weights::SendOptions& options,
                                                 absl::Duration timeout, uint64_t* bytes) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::ByteBuffer reply;
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer =
      rpc::StartRawClientStream(channel, method, &context, &reply);
  absl::StatusOr<uint64_t> sent = weights::SendWeightStreamToWire(
      weights.tensors, options,
      [&](const grpc::ByteBuffer& chunk) { return writer->Write(chunk); });
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (sent.ok()) *bytes = *sent;
  if (!status.ok()) return rpc::FromGrpcStatus(status);
  if (!sent.ok()) return sent.status();
  v1::LoadWeightsResponse response;
  RETURN_IF_ERROR(rpc::ParseReply(reply, &response));
  return response;
}

}  // namespace

grpc::Status LearnerService::PublishWeights(grpc::ServerContext* /*context*/,
                                            const v1::PublishWeightsRequest* request,
                                            v1::PublishWeightsResponse* response) {
  auto answer = [&](absl::Status status) {
    requests_->WithLabels({"PublishWeights", absl::StatusCodeToString(status.code())}).Increment();
    return rpc::ToGrpcStatus(status);
  };
  if (request->targets().empty() || request->targets_size() > 64) {
    return answer(absl::InvalidArgumentError("PublishWeights needs 1..64 targets"));
  }
  if (absl::Status failed = CheckNotFailed(); !failed.ok()) return answer(failed);
  std::set<std::pair<std::string, std::string>> seen;
  for (const v1::PublishTarget& t : request->targets()) {
    if (t.endpoint().empty())
      return answer(absl::InvalidArgumentError("a target without an endpoint"));
    if (!seen.insert({t.endpoint(), t.model()}).second) {
      return answer(absl::InvalidArgumentError(
          absl::StrCat("target ", t.endpoint(), " '", t.model(), "' is listed twice")));
    }
  }
  c10::ScalarType dtype = torch::kFloat;
  switch (request->dtype()) {
    case v1::DTYPE_UNSPECIFIED:
    case v1::DTYPE_FLOAT32:
      break;
    case v1::DTYPE_BFLOAT16:
      dtype = torch::kBFloat16;
      break;
    case v1::DTYPE_FLOAT16:
      dtype = torch::kHalf;
      break;
    default:
      return answer(absl::InvalidArgumentError("dtype must be FLOAT32, BFLOAT16 or FLOAT16"));
  }
  const auto start = Clock::now();
  absl::StatusOr<PolicyWeights> weights = core_->Weights(request->session_id(), dtype);
  if (!weights.ok()) return answer(weights.status());
  const absl::Duration timeout = request->has_target_timeout()
                                     ? absl::Seconds(request->target_timeout().seconds())
                                     : absl::Seconds(300);
  std::vector<v1::PublishTargetResult> results(request->targets_size());
  std::vector<std::thread> threads;
  for (int i = 0; i < request->targets_size(); ++i) {
    threads.emplace_back([&, i] {
      const v1::PublishTarget& target = request->targets(i);
      v1::PublishTargetResult& result = results[i];
      *result.mutable_target() = target;
      const auto begin = Clock::now();
      weights::SendOptions options;
      options.version = weights->version;
      options.model = target.model();
      options.architecture = "llama";
      options.source = absl::StrCat("learner:", request->session_id());
      options.allow_downgrade = request->allow_downgrade();
      const std::shared_ptr<grpc::Channel> channel = ChannelTo(target.endpoint());
      uint64_t bytes = 0;
      absl::StatusOr<v1::LoadWeightsResponse> loaded = absl::NotFoundError(
          absl::StrCat(target.endpoint(), " serves no Generator, Reference or RewardScorer"));
      auto serves = [&](const char* service) {
        absl::StatusOr<rpc::ServingStatus> health =
            rpc::CheckHealth(channel, service, absl::Seconds(10));
        return health.ok() && *health == rpc::ServingStatus::kServing;
      };
      if (!target.model().empty() && serves("plumb.v1.RewardScorer")) {
        loaded = StreamTo(channel, "/plumb.v1.RewardScorer/LoadWeights", *weights, options, timeout,
                          &bytes);
      } else if (serves("plumb.v1.Generator")) {
        loaded = StreamTo(channel, "/plumb.v1.Generator/LoadWeights", *weights, options, timeout,
                          &bytes);
      } else if (serves("plumb.v1.Reference")) {
        loaded = StreamTo(channel, "/plumb.v1.Reference/LoadWeights", *weights, options, timeout,
                          &bytes);
      }
      result.set_code(static_cast<int32_t>(loaded.status().code()));
      result.set_error_message(std::string(loaded.status().message()));
      result.set_bytes(bytes);
      if (loaded.ok()) result.set_previous_version(loaded->previous_version());
      result.set_seconds(std::chrono::duration<double>(Clock::now() - begin).count());
    });
  }
  for (std::thread& t : threads) t.join();
  uint64_t total = 0;
  int failed = 0;
  for (const v1::PublishTargetResult& r : results) {
    total += r.bytes();
    if (r.code() != 0 && r.code() != static_cast<int>(absl::StatusCode::kAlreadyExists)) ++failed;
    sync_seconds_->Observe(r.seconds());
    *response->add_results() = r;
  }
  sync_bytes_->Increment(static_cast<double>(total));
  response->set_version(weights->version);
  response->set_bytes(total);
  response->set_failed_targets(failed);
  response->set_seconds(std::chrono::duration<double>(Clock::now() - start).count());
  return answer(absl::OkStatus());
}

grpc::Status LearnerService::SaveCheckpoint(grpc::ServerContext* /*context*/,
                                            const v1::SaveCheckpointRequest* request,
                                            v1::SaveCheckpointResponse* response) {
  const auto start = Clock::now();
  absl::StatusOr<uint64_t> version = core_->SaveCheckpoint(
      request->session_id(), request->path(), request->weights_only(), request->overwrite());
  requests_->WithLabels({"SaveCheckpoint", absl::StatusCodeToString(version.status().code())})
      .Increment();
  if (!version.ok()) return rpc::ToGrpcStatus(version.status());
  response->set_path(request->path());
  response->set_policy_version(*version);
  response->set_seconds(std::chrono::duration<double>(Clock::now() - start).count());
  return grpc::Status::OK;
}

grpc::Status LearnerService::LoadCheckpoint(grpc::ServerContext* /*context*/,
                                            const v1::LoadCheckpointRequest* request,
                                            v1::LoadCheckpointResponse* response) {
  const auto start = Clock::now();
  absl::StatusOr<uint64_t> version = absl::InternalError("not run");
  const absl::Status replicated = Replicated(Command::kLoadCheckpoint, "", *request, [&] {
    version =
        core_->LoadCheckpoint(request->session_id(), request->path(), request->weights_only());
  });
  if (!replicated.ok()) version = replicated;
  NoteLostRank(version.status());
  requests_->WithLabels({"LoadCheckpoint", absl::StatusCodeToString(version.status().code())})
      .Increment();
  if (!version.ok()) return rpc::ToGrpcStatus(version.status());
  {
    absl::MutexLock lock(&mu_);
    failed_.clear();
  }
  response->set_path(request->path());
  response->set_policy_version(*version);
  response->set_seconds(std::chrono::duration<double>(Clock::now() - start).count());
  version_->Set(static_cast<double>(*version));
  return grpc::Status::OK;
}

grpc::Status LearnerService::EndSession(grpc::ServerContext* /*context*/,
                                        const v1::EndSessionRequest* request,
                                        v1::EndSessionResponse* response) {
  absl::StatusOr<uint64_t> version = absl::InternalError("not run");
  const absl::Status replicated = Replicated(Command::kEndSession, "", *request, [&] {
    version = core_->EndSession(request->session_id());
  });
  if (!replicated.ok()) version = replicated;
  requests_->WithLabels({"EndSession", absl::StatusCodeToString(version.status().code())})
      .Increment();
  if (!version.ok()) return rpc::ToGrpcStatus(version.status());
  response->set_policy_version(*version);
  return grpc::Status::OK;
}

grpc::Status LearnerService::GetInfo(grpc::ServerContext* /*context*/,
                                     const v1::LearnerGetInfoRequest* /*request*/,
                                     v1::LearnerGetInfoResponse* response) {
  response->mutable_server()->set_build_version(service::PlumbVersion());
  *response->mutable_server()->mutable_start_time() = weights::ToProtoTime(start_);
  if (std::optional<SessionStatus> status = core_->Status()) {
    v1::SessionInfo* session = response->mutable_session();
    session->set_session_id(status->id);
    session->set_state(training_.load() ? v1::SESSION_STATE_TRAINING : v1::SESSION_STATE_READY);
    session->set_policy_version(status->policy_version);
    session->set_optimizer_steps(status->optimizer_steps);
    session->set_train_calls(status->train_calls);
    absl::MutexLock lock(&mu_);
    *session->mutable_config() = config_;
    session->set_last_sequence(last_sequence_);
    if (!failed_.empty()) {
      session->set_state(v1::SESSION_STATE_FAILED);
      session->set_error(failed_);
    }
  }
  if (std::optional<model::ModelConfig> config = core_->ModelConfigOf()) {
    response->mutable_model()->set_architecture("llama");
    response->mutable_model()->set_vocab_size(static_cast<int32_t>(config->vocab_size));
    response->mutable_model()->set_context_length(
        static_cast<int32_t>(config->max_position_embeddings));
  }
  response->set_world_size(core_->world_size());
  response->set_distributed_backend("gloo");
  for (int a = v1::ALGORITHM_SFT; a <= v1::ALGORITHM_RRHF; ++a) {
    response->add_supported_algorithms(static_cast<v1::Algorithm>(a));
  }
  return grpc::Status::OK;
}

}  // namespace plumb::learner
