// The options of the offline training updates, shared by plumb-train (read from its YAML) and the
// learner service (converted from its session options). No LibTorch.
#ifndef PLUMB_COMMON_TRAIN_OBJECTIVE_OPTIONS_H_
#define PLUMB_COMMON_TRAIN_OBJECTIVE_OPTIONS_H_

#include <cstdint>
#include <string>

#include "common/algorithms/dpo.h"
#include "common/algorithms/kto.h"
#include "common/algorithms/rrhf.h"
#include "common/algorithms/simpo.h"

namespace plumb::train {

struct RewardModelObjectiveOptions {
  int64_t output_index = 0;   // which reward-head output this model trains
  bool use_margin = true;     // subtract the pair's Llama 2 margin when the data has one
  double margin_scale = 1.0;  // the margin subtracted is margin_scale x the pair's margin
  double center_rewards_coefficient = 0.0;
};

struct SftOptions {
  // Pack several examples into each row of pack_length tokens (attention and positions restart
  // per example, so the loss equals the unpacked one while padding is mostly avoided). Packing
  // needs every example's weight to be 1.
  bool packing = false;
  int64_t pack_length = 512;  // plumb-train: tokenization.max_length
  int64_t pad_token_id = 0;   // plumb-train: the tokenizer's pad id
};

struct ObjectiveOptions {
  std::string kind;  // sft | reward_model | dpo | kto | orpo | simpo | rrhf
  SftOptions sft;
  algorithms::DpoOptions dpo;
  // RPO: + dpo_sft_weight x the token-mean NLL of the chosen responses (0 = plain DPO family).
  double dpo_sft_weight = 0.0;
  algorithms::KtoOptions kto;
  // KTO's reference point z0: estimated from mismatched pairs (prompt i, completion i + 1 mod n)
  // of the batch, or 0.
  bool kto_mismatched_reference_point = true;
  double orpo_beta = 0.1;  // the ORPO paper's lambda
  algorithms::SimpoOptions simpo;
  algorithms::RrhfOptions rrhf;
  double rrhf_sft_weight = 1.0;  // RRHF: rrhf_weight x rank loss + rrhf_sft_weight x SFT loss
  RewardModelObjectiveOptions reward_model;
};

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_OBJECTIVE_OPTIONS_H_
