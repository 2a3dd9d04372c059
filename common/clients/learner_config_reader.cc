// plumb.v1.TrainingConfig -> learner::SessionOptions: the defaults of SessionOptions::Defaults,
// then what the config sets, the algorithm's section through its line of kProtoAlgorithms;
// options the learner does not implement are UNIMPLEMENTED naming the field. Value ranges are
// SessionOptions::Validate's.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/api/learner_option_checks.h"
#include "common/clients/learner_config_proto.h"
#include "common/clients/learner_config_readers.h"
#include "common/status/status_macros.h"

namespace plumb::clients {
namespace {

using learner::Algorithm;
using learner::KtoReferencePoint;
using learner::SessionOptions;

using learner::option_checks::Field;

// The learner's SFT (and rejection sampling's) loss is the token mean over completion tokens,
// without label smoothing; a config asking for anything else is refused, not ignored.
absl::Status CheckSft(const v1::SftConfig& p, const std::string& path) {
  auto unsupported = [&](const char* field, const char* what) {
    return absl::UnimplementedError(absl::StrCat("config.", path, ".", field, ": ", what,
                                                 " is not supported by plumb-learner; leave it "
                                                 "unset"));
  };
  if (p.train_on_prompt()) return unsupported("train_on_prompt", "a loss on prompt tokens");
  if (p.label_smoothing() != 0) return unsupported("label_smoothing", "label smoothing");
  if (p.loss_aggregation() != v1::LOSS_AGGREGATION_UNSPECIFIED &&
      p.loss_aggregation() != v1::LOSS_AGGREGATION_TOKEN_MEAN) {
    return unsupported("loss_aggregation", "an aggregation other than TOKEN_MEAN");
  }
  return absl::OkStatus();
}

void ReadOptimizer(const v1::OptimizerConfig& p, SessionOptions* o) {
  o->optimizer.lr = p.learning_rate() == 0 ? 1e-5 : p.learning_rate();
  if (p.has_beta1()) o->optimizer.beta1 = p.beta1();
  if (p.has_beta2()) o->optimizer.beta2 = p.beta2();
  if (p.epsilon() != 0) o->optimizer.eps = p.epsilon();
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
  // 0 = none; a negative count is kept so that Validate names it.
  o->gradient_accumulation_steps =
      p.gradient_accumulation_steps() == 0 ? 1 : p.gradient_accumulation_steps();
}

// ---- One reader per TrainingConfig algorithm: its section over the kind's defaults.

absl::Status ReadSft(const v1::TrainingConfig& c, SessionOptions* /*o*/) {
  return CheckSft(c.sft(), "sft");
}

absl::Status ReadRewardModel(const v1::TrainingConfig& c, SessionOptions* o) {
  const v1::RewardModelConfig& r = c.reward_model();
  o->reward_model.use_margin = r.use_margin();
  if (r.has_margin_scale()) o->reward_model.margin_scale = r.margin_scale();
  o->reward_model.center_rewards_coef = r.center_rewards_coef();
  o->reward_model.epochs = r.epochs() == 0 ? 1 : r.epochs();
  o->reward_model.minibatch_size = r.minibatch_size();
  switch (r.readout()) {
    case v1::REWARD_READOUT_UNSPECIFIED:
      break;
    case v1::REWARD_READOUT_LAST_TOKEN:
      o->reward_model.readout = model::RewardReadout::kLastToken;
      break;
    case v1::REWARD_READOUT_RESPONSE_MEAN:
      o->reward_model.readout = model::RewardReadout::kResponseMean;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("config.reward_model.readout: ", static_cast<int>(r.readout()),
                       " is not a RewardReadout; use REWARD_READOUT_LAST_TOKEN or "
                       "REWARD_READOUT_RESPONSE_MEAN"));
  }
  return absl::OkStatus();
}

absl::Status ReadPpo(const v1::TrainingConfig& c, SessionOptions* o) {
  return internal::ReadPpo(c.ppo(), &o->ppo);
}

absl::Status ReadGrpo(const v1::TrainingConfig& c, SessionOptions* o) {
  internal::ReadGrpo(c.grpo(), &o->critic_free);
  return absl::OkStatus();
}

absl::Status ReadRloo(const v1::TrainingConfig& c, SessionOptions* o) {
  internal::ReadRloo(c.rloo(), &o->critic_free);
  return absl::OkStatus();
}

absl::Status ReadReinforce(const v1::TrainingConfig& c, SessionOptions* o) {
  internal::ReadReinforce(c.reinforce(), &o->critic_free);
  return absl::OkStatus();
}

absl::Status ReadRejectionSampling(const v1::TrainingConfig& c, SessionOptions* o) {
  const v1::RejectionSamplingConfig& r = c.rejection_sampling();
  RETURN_IF_ERROR(CheckSft(r.sft(), "rejection_sampling.sft"));
  o->rejection_sampling.top_n = r.top_n_per_prompt() == 0 ? 1 : r.top_n_per_prompt();
  if (r.has_min_reward()) o->rejection_sampling.min_reward = r.min_reward();
  o->rejection_sampling.drop_truncated = r.drop_truncated();
  return absl::OkStatus();
}

// DPO, IPO and cDPO: one kind whose loss and label smoothing the algorithm's name defaults.
absl::Status ReadDpo(const v1::TrainingConfig& c, SessionOptions* o) {
  const v1::Algorithm algorithm = c.algorithm();
  const v1::DpoConfig& p = c.dpo();
  algorithms::DpoOptions& d = o->dpo;
  d.beta = p.has_beta() ? p.beta() : 0.1;
  switch (p.loss_type()) {
    case v1::DPO_LOSS_TYPE_IPO:
      d.loss_type = "ipo";
      break;
    case v1::DPO_LOSS_TYPE_HINGE:
      d.loss_type = "hinge";
      break;
    case v1::DPO_LOSS_TYPE_SIGMOID:
      d.loss_type = "sigmoid";
      break;
    default:
      d.loss_type = algorithm == v1::ALGORITHM_IPO ? "ipo" : "sigmoid";
  }
  if (algorithm == v1::ALGORITHM_IPO && d.loss_type != "ipo") {
    return Field("dpo.loss_type", "ALGORITHM_IPO takes the IPO loss");
  }
  if (algorithm == v1::ALGORITHM_CDPO && d.loss_type != "sigmoid") {
    return Field("dpo.loss_type", "ALGORITHM_CDPO takes the sigmoid loss");
  }
  d.label_smoothing = p.label_smoothing();
  if (algorithm == v1::ALGORITHM_CDPO && d.label_smoothing == 0) d.label_smoothing = 0.1;
  d.reference_free = p.reference_free();
  if (p.has_ipo_length_normalize()) d.ipo_log_ratio = p.ipo_length_normalize() ? "mean" : "sum";
  o->dpo_sft_weight = p.sft_weight();
  return absl::OkStatus();
}

absl::Status ReadKto(const v1::TrainingConfig& c, SessionOptions* o) {
  const v1::KtoConfig& k = c.kto();
  if (k.has_beta()) o->kto.beta = k.beta();
  if (k.has_desirable_weight()) o->kto.desirable_weight = k.desirable_weight();
  if (k.has_undesirable_weight()) o->kto.undesirable_weight = k.undesirable_weight();
  o->kto_reference_point = k.reference_point() == v1::KTO_REFERENCE_POINT_ZERO
                               ? KtoReferencePoint::kZero
                               : KtoReferencePoint::kBatchMismatched;
  return absl::OkStatus();
}

absl::Status ReadOrpo(const v1::TrainingConfig& c, SessionOptions* o) {
  if (c.orpo().has_odds_ratio_weight()) o->orpo_weight = c.orpo().odds_ratio_weight();
  return absl::OkStatus();
}

absl::Status ReadSimpo(const v1::TrainingConfig& c, SessionOptions* o) {
  const v1::SimpoConfig& p = c.simpo();
  o->simpo.beta = p.has_beta() ? p.beta() : 2.0;
  if (p.has_gamma()) o->simpo.gamma = p.gamma();
  o->simpo.label_smoothing = p.label_smoothing();
  o->simpo.cpo_alpha = p.sft_weight();
  return absl::OkStatus();
}

absl::Status ReadRrhf(const v1::TrainingConfig& c, SessionOptions* o) {
  const v1::RrhfConfig& p = c.rrhf();
  if (p.has_sft_weight()) o->rrhf_sft_weight = p.sft_weight();
  o->rrhf.length_penalty = (!p.has_length_normalize() || p.length_normalize()) ? 1.0 : 0.0;
  return absl::OkStatus();
}

using Config = v1::TrainingConfig;

// A TrainingConfig algorithm: the kind it maps to, the algorithm_config case that may hold its
// section, and its reader. One line a proto algorithm, in learner.proto's order; a new kind adds
// its line here (and its writer in common/clients/learner_config_proto.cc).
struct ProtoAlgorithm {
  v1::Algorithm proto;
  Algorithm algorithm;
  Config::AlgorithmConfigCase section;
  absl::Status (*read)(const v1::TrainingConfig& c, SessionOptions* o);
};

constexpr ProtoAlgorithm kProtoAlgorithms[] = {
    {v1::ALGORITHM_SFT, Algorithm::kSft, Config::kSft, ReadSft},
    {v1::ALGORITHM_REWARD_MODEL, Algorithm::kRewardModel, Config::kRewardModel, ReadRewardModel},
    {v1::ALGORITHM_PPO, Algorithm::kPpo, Config::kPpo, ReadPpo},
    {v1::ALGORITHM_GRPO, Algorithm::kGrpo, Config::kGrpo, ReadGrpo},
    {v1::ALGORITHM_RLOO, Algorithm::kRloo, Config::kRloo, ReadRloo},
    {v1::ALGORITHM_REINFORCE_BASELINE, Algorithm::kReinforce, Config::kReinforce, ReadReinforce},
    {v1::ALGORITHM_REJECTION_SAMPLING_SFT, Algorithm::kRejectionSamplingSft,
     Config::kRejectionSampling, ReadRejectionSampling},
    {v1::ALGORITHM_DPO, Algorithm::kDpo, Config::kDpo, ReadDpo},
    {v1::ALGORITHM_IPO, Algorithm::kDpo, Config::kDpo, ReadDpo},
    {v1::ALGORITHM_CDPO, Algorithm::kDpo, Config::kDpo, ReadDpo},
    {v1::ALGORITHM_KTO, Algorithm::kKto, Config::kKto, ReadKto},
    {v1::ALGORITHM_ORPO, Algorithm::kOrpo, Config::kOrpo, ReadOrpo},
    {v1::ALGORITHM_SIMPO, Algorithm::kSimpo, Config::kSimpo, ReadSimpo},
    {v1::ALGORITHM_RRHF, Algorithm::kRrhf, Config::kRrhf, ReadRrhf},
};

const ProtoAlgorithm* FindProtoAlgorithm(v1::Algorithm proto) {
  for (const ProtoAlgorithm& entry : kProtoAlgorithms) {
    if (entry.proto == proto) return &entry;
  }
  return nullptr;
}

absl::Status ReadLora(const v1::LoraConfig& p, SessionOptions* o) {
  if (p.dropout() != 0) {
    return absl::UnimplementedError(
        "config.lora.dropout: adapter dropout is not supported; leave it 0");
  }
  if (p.publish_adapters_only()) {
    return absl::UnimplementedError(
        "config.lora.publish_adapters_only: the model services load merged weights only; "
        "leave it false (the learner merges the adapters when it publishes)");
  }
  model::LoraOptions lora;
  lora.rank = p.rank();
  lora.alpha = p.has_alpha() ? p.alpha() : p.rank();
  if (p.target_modules_size() > 0) {
    lora.target_modules.assign(p.target_modules().begin(), p.target_modules().end());
  } else {
    lora.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj"};
  }
  o->lora = lora;
  return absl::OkStatus();
}

}  // namespace

std::vector<std::pair<v1::Algorithm, Algorithm>> ProtoAlgorithms() {
  std::vector<std::pair<v1::Algorithm, Algorithm>> out;
  for (const ProtoAlgorithm& entry : kProtoAlgorithms)
    out.emplace_back(entry.proto, entry.algorithm);
  return out;
}

absl::StatusOr<SessionOptions> SessionOptionsFromProto(const v1::TrainingConfig& c) {
  if (c.algorithm() == v1::ALGORITHM_UNSPECIFIED) return Field("algorithm", "is required");
  const ProtoAlgorithm* algorithm = FindProtoAlgorithm(c.algorithm());
  if (algorithm == nullptr) {
    return Field("algorithm", absl::StrCat("unknown value ", c.algorithm()));
  }
  SessionOptions o = SessionOptions::Defaults(algorithm->algorithm);
  RETURN_IF_ERROR(algorithm->read(c, &o));
  if (c.algorithm_config_case() != Config::ALGORITHM_CONFIG_NOT_SET &&
      c.algorithm_config_case() != algorithm->section) {
    return Field("algorithm_config", "holds another algorithm's config");
  }
  ReadOptimizer(c.optimizer(), &o);
  if (c.has_lora()) RETURN_IF_ERROR(ReadLora(c.lora(), &o));
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
  o.gradient_checkpointing = c.gradient_checkpointing();
  o.micro_batch_size = c.micro_batch_size();
  o.max_sequence_length = c.max_sequence_length();
  if (c.has_max_policy_lag()) o.max_policy_lag = c.max_policy_lag();
  o.seed = c.seed();
  RETURN_IF_ERROR(o.Validate());
  return o;
}

}  // namespace plumb::clients
