#include "services/plumb-learner/learner_offline_batches.h"

#include "common/api/learner_algorithm_kind.h"

namespace plumb::learner {

train::ObjectiveOptions ObjectiveOptionsOf(const SessionOptions& o) {
  train::ObjectiveOptions out;
  // Validated sessions always have a kind; "sft" keeps a stray one on the plainest update.
  absl::StatusOr<const LearnerAlgorithmKind*> kind = LearnerAlgorithmOf(o.algorithm);
  out.kind = kind.ok() ? (*kind)->objective : "sft";
  out.dpo = o.dpo;
  out.dpo_sft_weight = o.dpo_sft_weight;
  out.kto = o.kto;
  out.kto_mismatched_reference_point = o.kto_reference_point == KtoReferencePoint::kBatchMismatched;
  out.orpo_beta = o.orpo_weight;
  out.simpo = o.simpo;
  out.rrhf = o.rrhf;
  out.rrhf_sft_weight = o.rrhf_sft_weight;
  out.reward_model.output_index = 0;
  out.reward_model.use_margin = o.reward_model.use_margin;
  out.reward_model.margin_scale = o.reward_model.margin_scale;
  out.reward_model.center_rewards_coefficient = o.reward_model.center_rewards_coef;
  return out;
}

bool TrainsRewardHead(const SessionOptions& o) {
  absl::StatusOr<const LearnerAlgorithmKind*> kind = LearnerAlgorithmOf(o.algorithm);
  return kind.ok() && (*kind)->TrainsRewardHead();
}

std::vector<train::SftItem> SftItems(const std::vector<SftExample>& batch) {
  std::vector<train::SftItem> out;
  out.reserve(batch.size());
  for (const SftExample& e : batch) {
    if (e.prompt.empty() && !e.completion.empty()) {
      out.push_back({{e.completion.front()},
                     std::vector<int64_t>(e.completion.begin() + 1, e.completion.end()),
                     e.weight});
    } else {
      out.push_back({e.prompt, e.completion, e.weight});
    }
  }
  return out;
}

std::vector<train::PairItem> PairItems(const std::vector<PreferenceExample>& batch) {
  std::vector<train::PairItem> out;
  out.reserve(batch.size());
  for (const PreferenceExample& p : batch) {
    out.push_back({p.prompt, p.chosen, p.rejected, p.ref_chosen, p.ref_rejected});
  }
  return out;
}

std::vector<train::UnpairedItem> UnpairedItems(const std::vector<UnpairedExample>& batch) {
  std::vector<train::UnpairedItem> out;
  out.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const UnpairedExample& e = batch[i];
    train::UnpairedItem item;
    item.prompt = e.prompt;
    item.completion = e.completion;
    item.desirable = e.desirable;
    item.ref_logprob = e.ref_logprob.value_or(0.0);
    item.kl_prompt = e.prompt;
    item.kl_completion = batch[(i + 1) % batch.size()].completion;
    item.ref_kl_logprob = e.ref_kl_logprob.value_or(0.0);
    out.push_back(std::move(item));
  }
  return out;
}

std::vector<train::RankedItem> RankedItems(const std::vector<PreferenceExample>& batch) {
  std::vector<train::RankedItem> out;
  out.reserve(batch.size());
  for (const PreferenceExample& p : batch) {
    out.push_back({p.prompt, {p.chosen, p.rejected}, {0, 1}, p.margin, p.probability});
  }
  return out;
}

std::vector<train::RankedItem> RankedItems(const std::vector<RankedGroup>& batch) {
  std::vector<train::RankedItem> out;
  out.reserve(batch.size());
  for (const RankedGroup& g : batch) out.push_back({g.prompt, g.responses, g.ranks, {}, {}});
  return out;
}

}  // namespace plumb::learner
