#include "common/clients/learner_config_proto.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/clients/learner_config_writers.h"
#include "common/status/echo.h"

namespace plumb::clients {
namespace internal {

absl::Status Inexpressible(const std::string& option, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("options.", option, ": ", why, " (plumb.v1.TrainingConfig cannot carry it)"));
}

}  // namespace internal

namespace {

using internal::Inexpressible;

absl::Status Dpo(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  const algorithms::DpoOptions& d = o.dpo;
  c->set_algorithm(v1::ALGORITHM_DPO);
  v1::DpoConfig* p = c->mutable_dpo();
  if (d.loss_type == "sigmoid") {
    p->set_loss_type(v1::DPO_LOSS_TYPE_SIGMOID);
  } else if (d.loss_type == "ipo") {
    p->set_loss_type(v1::DPO_LOSS_TYPE_IPO);
  } else if (d.loss_type == "hinge") {
    p->set_loss_type(v1::DPO_LOSS_TYPE_HINGE);
  } else {
    return Inexpressible("dpo.loss_type", absl::StrCat(Echo(d.loss_type), " is not offered"));
  }
  p->set_beta(static_cast<float>(d.beta));
  p->set_label_smoothing(static_cast<float>(d.label_smoothing));
  p->set_reference_free(d.reference_free);
  if (d.ipo_log_ratio != "mean" && d.ipo_log_ratio != "sum") {
    return Inexpressible("dpo.ipo_log_ratio", "must be mean or sum");
  }
  p->set_ipo_length_normalize(d.ipo_log_ratio == "mean");
  p->set_sft_weight(static_cast<float>(o.dpo_sft_weight));
  return absl::OkStatus();
}

absl::Status Sft(const learner::SessionOptions& /*o*/, v1::TrainingConfig* c) {
  c->set_algorithm(v1::ALGORITHM_SFT);
  c->mutable_sft();
  return absl::OkStatus();
}

absl::Status RewardModel(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  c->set_algorithm(v1::ALGORITHM_REWARD_MODEL);
  v1::RewardModelConfig* p = c->mutable_reward_model();
  p->set_use_margin(o.reward_model.use_margin);
  p->set_margin_scale(static_cast<float>(o.reward_model.margin_scale));
  p->set_center_rewards_coef(static_cast<float>(o.reward_model.center_rewards_coef));
  p->set_epochs(o.reward_model.epochs);
  p->set_minibatch_size(o.reward_model.minibatch_size);
  if (o.reward_model.readout.has_value()) {
    p->set_readout(*o.reward_model.readout == model::RewardReadout::kResponseMean
                       ? v1::REWARD_READOUT_RESPONSE_MEAN
                       : v1::REWARD_READOUT_LAST_TOKEN);
  }
  return absl::OkStatus();
}

absl::Status RejectionSampling(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  c->set_algorithm(v1::ALGORITHM_REJECTION_SAMPLING_SFT);
  v1::RejectionSamplingConfig* p = c->mutable_rejection_sampling();
  p->set_top_n_per_prompt(o.rejection_sampling.top_n);
  if (o.rejection_sampling.min_reward) {
    p->set_min_reward(static_cast<float>(*o.rejection_sampling.min_reward));
  }
  p->set_drop_truncated(o.rejection_sampling.drop_truncated);
  return absl::OkStatus();
}

absl::Status Kto(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  if (o.kto.kl_average != algorithms::KtoOptions().kl_average) {
    return Inexpressible("kto.kl_average", "only the default is offered");
  }
  c->set_algorithm(v1::ALGORITHM_KTO);
  v1::KtoConfig* p = c->mutable_kto();
  p->set_beta(static_cast<float>(o.kto.beta));
  p->set_desirable_weight(static_cast<float>(o.kto.desirable_weight));
  p->set_undesirable_weight(static_cast<float>(o.kto.undesirable_weight));
  p->set_reference_point(o.kto_reference_point == learner::KtoReferencePoint::kZero
                             ? v1::KTO_REFERENCE_POINT_ZERO
                             : v1::KTO_REFERENCE_POINT_BATCH_MISMATCHED);
  return absl::OkStatus();
}

absl::Status Orpo(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  c->set_algorithm(v1::ALGORITHM_ORPO);
  c->mutable_orpo()->set_odds_ratio_weight(static_cast<float>(o.orpo_weight));
  return absl::OkStatus();
}

absl::Status Simpo(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  c->set_algorithm(v1::ALGORITHM_SIMPO);
  v1::SimpoConfig* p = c->mutable_simpo();
  p->set_beta(static_cast<float>(o.simpo.beta));
  p->set_gamma(static_cast<float>(o.simpo.gamma));
  p->set_label_smoothing(static_cast<float>(o.simpo.label_smoothing));
  p->set_sft_weight(static_cast<float>(o.simpo.cpo_alpha));
  return absl::OkStatus();
}

absl::Status Rrhf(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  const algorithms::RrhfOptions defaults;
  if (o.rrhf.rrhf_weight != defaults.rrhf_weight || o.rrhf.length_mode != defaults.length_mode ||
      o.rrhf.sft_reduction != defaults.sft_reduction ||
      (o.rrhf.length_penalty != 0.0 && o.rrhf.length_penalty != 1.0)) {
    return Inexpressible("rrhf", "only length_penalty 0 or 1 and the default reductions");
  }
  c->set_algorithm(v1::ALGORITHM_RRHF);
  c->mutable_rrhf()->set_sft_weight(static_cast<float>(o.rrhf_sft_weight));
  c->mutable_rrhf()->set_length_normalize(o.rrhf.length_penalty == 1.0);
  return absl::OkStatus();
}

// The writer of each algorithm kind's TrainingConfig algorithm and section, one line a kind; the
// learner's reader is its line in services/plumb-learner/learner_training_config.cc.
struct AlgorithmWriter {
  learner::Algorithm algorithm;
  absl::Status (*write)(const learner::SessionOptions& o, v1::TrainingConfig* c);
};

constexpr AlgorithmWriter kAlgorithmWriters[] = {
    {learner::Algorithm::kSft, Sft},
    {learner::Algorithm::kRewardModel, RewardModel},
    {learner::Algorithm::kPpo, internal::Ppo},
    {learner::Algorithm::kGrpo, internal::Grpo},
    {learner::Algorithm::kRloo, internal::Rloo},
    {learner::Algorithm::kReinforce, internal::Reinforce},
    {learner::Algorithm::kRejectionSamplingSft, RejectionSampling},
    {learner::Algorithm::kDpo, Dpo},
    {learner::Algorithm::kKto, Kto},
    {learner::Algorithm::kOrpo, Orpo},
    {learner::Algorithm::kSimpo, Simpo},
    {learner::Algorithm::kRrhf, Rrhf},
};

absl::Status Algorithm(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  for (const AlgorithmWriter& writer : kAlgorithmWriters) {
    if (writer.algorithm == o.algorithm) return writer.write(o, c);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("options.algorithm: unknown value ", static_cast<int>(o.algorithm)));
}

}  // namespace

absl::StatusOr<v1::TrainingConfig> TrainingConfigFromOptions(const learner::SessionOptions& o) {
  v1::TrainingConfig c;
  if (absl::Status status = Algorithm(o, &c); !status.ok()) return status;
  v1::OptimizerConfig* opt = c.mutable_optimizer();
  opt->set_type(v1::OPTIMIZER_TYPE_ADAMW);
  opt->set_learning_rate(static_cast<float>(o.optimizer.lr));
  opt->set_beta1(static_cast<float>(o.optimizer.beta1));
  opt->set_beta2(static_cast<float>(o.optimizer.beta2));
  opt->set_epsilon(static_cast<float>(o.optimizer.eps));
  opt->set_weight_decay(static_cast<float>(o.optimizer.weight_decay));
  if (o.schedule.kind == "constant") {
    opt->set_schedule(v1::LR_SCHEDULE_CONSTANT);
  } else if (o.schedule.kind == "linear") {
    opt->set_schedule(v1::LR_SCHEDULE_LINEAR);
  } else if (o.schedule.kind == "cosine") {
    opt->set_schedule(v1::LR_SCHEDULE_COSINE);
  } else {
    return Inexpressible("schedule.kind", absl::StrCat(Echo(o.schedule.kind), " is not offered"));
  }
  opt->set_warmup_steps(o.schedule.warmup_steps);
  opt->set_total_steps(o.total_steps);
  opt->set_min_lr_ratio(static_cast<float>(o.schedule.min_lr_ratio));
  opt->set_max_grad_norm(static_cast<float>(o.max_grad_norm));
  opt->set_gradient_accumulation_steps(o.gradient_accumulation_steps);
  if (o.lora.has_value()) {
    c.mutable_lora()->set_rank(static_cast<int32_t>(o.lora->rank));
    c.mutable_lora()->set_alpha(static_cast<float>(o.lora->alpha));
    for (const std::string& m : o.lora->target_modules) c.mutable_lora()->add_target_modules(m);
  }
  if (o.device != "cpu") return Inexpressible("device", "the learner's device is its own");
  if (o.dtype == "bfloat16") {
    if (o.bf16_mixed) return Inexpressible("bf16_mixed", "bf16 weights take no autocast");
    c.set_precision(v1::PRECISION_BF16);
  } else if (o.dtype == "float32") {
    c.set_precision(o.bf16_mixed ? v1::PRECISION_BF16_MIXED : v1::PRECISION_FP32);
  } else {
    return Inexpressible("dtype", absl::StrCat(Echo(o.dtype), " is not offered"));
  }
  c.set_gradient_checkpointing(o.gradient_checkpointing);
  c.set_micro_batch_size(o.micro_batch_size);
  c.set_max_sequence_length(static_cast<int32_t>(o.max_sequence_length));
  if (o.max_policy_lag) c.set_max_policy_lag(*o.max_policy_lag);
  c.set_seed(o.seed);
  return c;
}

}  // namespace plumb::clients
