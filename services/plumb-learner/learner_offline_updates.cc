// Offline updates: SFT, the pairwise objectives (DPO family, ORPO, SimPO, reward model), KTO on
// unpaired examples and RRHF / reward model on ranked groups. Each is one forward/backward over
// this rank's rows and one optimizer step (or a share of one, with gradient accumulation).
#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/algorithms/dpo.h"
#include "common/algorithms/kto.h"
#include "common/algorithms/orpo.h"
#include "common/algorithms/reward_model_loss.h"
#include "common/algorithms/rrhf.h"
#include "common/algorithms/simpo.h"
#include "common/api/learner_limits.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "services/plumb-learner/learner_session.h"

namespace plumb::learner {
namespace {

using Clock = std::chrono::steady_clock;

at::Tensor FloatTensor(const std::vector<float>& values, const c10::Device& device) {
  return torch::tensor(values).to(device);
}

}  // namespace

absl::StatusOr<TrainStats> LearnerCore::Session::Sft(const std::vector<SftExample>& batch) {
  if (batch.empty()) return absl::InvalidArgumentError("an empty SFT batch");
  const model::ModelConfig& config = policy->config();
  double weighted_tokens = 0;
  for (const SftExample& e : batch) {
    const std::string what = absl::StrCat("example ", Echo(e.id, kDefaultEchoBytes, '\''));
    if (e.completion.empty()) return absl::InvalidArgumentError(what + ": empty completion");
    // An empty prompt is allowed: the completion's first token is then not predicted.
    const std::vector<int64_t> prompt =
        e.prompt.empty() ? std::vector<int64_t>{e.completion.front()} : e.prompt;
    RETURN_IF_ERROR(CheckSequence(
        config, options.max_sequence_length, what, prompt,
        e.prompt.empty() ? std::vector<int64_t>(e.completion.begin() + 1, e.completion.end())
                         : e.completion));
    RETURN_IF_ERROR(CheckValue(what + ": the weight", e.weight, 0, kMaxSftWeight));
    weighted_tokens += e.weight * static_cast<double>(e.completion.size());
  }
  if (weighted_tokens <= 0) return absl::InvalidArgumentError("every example has weight 0");
  return Guard("SFT update", [&]() -> absl::StatusOr<TrainStats> {
    const auto start = Clock::now();
    TrainStats stats;
    const int64_t n = static_cast<int64_t>(batch.size());
    Sums sums({"nll", "tokens"});
    const auto [begin, end] = Shard(0, n);
    RETURN_IF_ERROR(ForMicroBatches(begin, end, [&](int64_t a, int64_t b) -> absl::Status {
      std::vector<std::vector<int64_t>> prompts, responses;
      std::vector<float> weights;
      for (int64_t i = a; i < b; ++i) {
        const SftExample& e = batch[i];
        if (e.prompt.empty()) {
          prompts.push_back({e.completion.front()});
          responses.emplace_back(e.completion.begin() + 1, e.completion.end());
        } else {
          prompts.push_back(e.prompt);
          responses.push_back(e.completion);
        }
        weights.push_back(static_cast<float>(e.weight));
      }
      ASSIGN_OR_RETURN(model::ResponseScores scores, Score(prompts, responses));
      const at::Tensor per_sequence = -(scores.logprobs * scores.mask).sum(1);
      const at::Tensor weighted = per_sequence * FloatTensor(weights, per_sequence.device());
      Backward(weighted.sum() * (OfflineScale() / weighted_tokens), "SFT loss");
      sums.Add("nll", weighted.sum().item<double>());
      sums.Add("tokens", scores.mask.sum().item<double>());
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(sums.Reduce(*world));
    RETURN_IF_ERROR(FinishOfflineCall(&stats));
    stats.losses["sft"] = sums["nll"] / weighted_tokens;
    stats.losses["total"] = stats.losses["sft"];
    stats.tokens = static_cast<uint64_t>(sums["tokens"]);
    stats.sequences = static_cast<uint64_t>(n);
    CloseCall(&stats, start);
    return stats;
  });
}

absl::StatusOr<TrainStats> LearnerCore::Session::Pairs(
    const std::vector<PreferenceExample>& batch) {
  if (options.algorithm == Algorithm::kRewardModel) return RewardModelPairs(batch);
  const SessionOptions& o = options;
  const char* term = o.algorithm == Algorithm::kDpo    ? "dpo"
                     : o.algorithm == Algorithm::kOrpo ? "orpo"
                                                       : "simpo";
  // The chosen responses' token-mean NLL (ORPO's SFT term; SimPO's and DPO's optional one).
  const double nll_weight = o.algorithm == Algorithm::kOrpo    ? 1.0
                            : o.algorithm == Algorithm::kSimpo ? o.simpo.cpo_alpha
                                                               : o.dpo_sft_weight;
  double chosen_tokens = 0;
  for (const PreferenceExample& p : batch) chosen_tokens += static_cast<double>(p.chosen.size());
  return Guard(absl::StrCat(term, " update"), [&]() -> absl::StatusOr<TrainStats> {
    const auto start = Clock::now();
    TrainStats stats;
    const int64_t n = static_cast<int64_t>(batch.size());
    const double scale = OfflineScale();
    Sums sums({"loss", "nll", "accuracy", "margin", "chosen", "rejected", "tokens"});
    const auto [begin, end] = Shard(0, n);
    RETURN_IF_ERROR(ForMicroBatches(begin, end, [&](int64_t a, int64_t b) -> absl::Status {
      std::vector<std::vector<int64_t>> prompts, responses;
      std::vector<float> ref_c, ref_r;
      for (int64_t i = a; i < b; ++i) {
        prompts.push_back(batch[i].prompt);
        responses.push_back(batch[i].chosen);
        ref_c.push_back(static_cast<float>(batch[i].ref_chosen.value_or(0)));
        ref_r.push_back(static_cast<float>(batch[i].ref_rejected.value_or(0)));
      }
      for (int64_t i = a; i < b; ++i) {
        prompts.push_back(batch[i].prompt);
        responses.push_back(batch[i].rejected);
      }
      ASSIGN_OR_RETURN(model::ResponseScores scores, Score(prompts, responses));
      const int64_t k = b - a;
      const at::Tensor logps = scores.logprobs * scores.mask;
      const at::Tensor chosen_logps = logps.narrow(0, 0, k), rejected_logps = logps.narrow(0, k, k);
      const at::Tensor chosen_mask = scores.mask.narrow(0, 0, k);
      const at::Tensor rejected_mask = scores.mask.narrow(0, k, k);
      const at::Tensor sums_c = chosen_logps.sum(1), sums_r = rejected_logps.sum(1);
      at::Tensor losses, chosen_rewards, rejected_rewards;
      switch (o.algorithm) {
        case Algorithm::kDpo: {
          const auto device = sums_c.device();
          algorithms::PreferenceLoss dpo = algorithms::DpoLoss(
              sums_c, sums_r, FloatTensor(ref_c, device), FloatTensor(ref_r, device),
              chosen_mask.sum(1), rejected_mask.sum(1), o.dpo);
          losses = dpo.losses;
          chosen_rewards = dpo.chosen_rewards;
          rejected_rewards = dpo.rejected_rewards;
          break;
        }
        case Algorithm::kOrpo: {
          algorithms::OrpoLoss orpo = algorithms::ComputeOrpoLoss(
              chosen_logps, chosen_mask, chosen_mask, rejected_logps, rejected_mask, o.orpo_weight);
          losses = orpo.losses;
          chosen_rewards = orpo.chosen_rewards;
          rejected_rewards = orpo.rejected_rewards;
          break;
        }
        default: {
          algorithms::SimpoOptions simpo = o.simpo;
          simpo.cpo_alpha = 0;  // the NLL term is added below, over the whole batch's tokens
          algorithms::SimpoLoss loss = algorithms::ComputeSimpoLoss(
              chosen_logps, chosen_mask, rejected_logps, rejected_mask, simpo);
          losses = loss.losses;
          chosen_rewards = loss.chosen_rewards;
          rejected_rewards = loss.rejected_rewards;
        }
      }
      const at::Tensor nll = -sums_c.sum();
      at::Tensor loss = losses.sum() / static_cast<double>(n);
      if (nll_weight != 0) loss = loss + nll_weight * nll / std::max(1.0, chosen_tokens);
      Backward(loss * scale, absl::StrCat(term, " loss"));
      sums.Add("loss", losses.sum().item<double>());
      sums.Add("nll", nll.item<double>());
      sums.Add("accuracy", (chosen_rewards > rejected_rewards).sum().item<double>());
      sums.Add("margin", (chosen_rewards - rejected_rewards).sum().item<double>());
      sums.Add("chosen", chosen_rewards.sum().item<double>());
      sums.Add("rejected", rejected_rewards.sum().item<double>());
      sums.Add("tokens", scores.mask.sum().item<double>());
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(sums.Reduce(*world));
    RETURN_IF_ERROR(FinishOfflineCall(&stats));
    stats.losses[term] = sums["loss"] / n;
    double total = stats.losses[term];
    if (nll_weight != 0) {
      stats.losses["sft"] = sums["nll"] / std::max(1.0, chosen_tokens);
      total += nll_weight * stats.losses["sft"];
    }
    stats.losses["total"] = total;
    stats.metrics[absl::StrCat(term, "/accuracy")] = sums["accuracy"] / n;
    stats.metrics[absl::StrCat(term, "/margin")] = sums["margin"] / n;
    stats.metrics["rewards/chosen"] = sums["chosen"] / n;
    stats.metrics["rewards/rejected"] = sums["rejected"] / n;
    stats.tokens = static_cast<uint64_t>(sums["tokens"]);
    stats.sequences = static_cast<uint64_t>(2 * n);
    CloseCall(&stats, start);
    return stats;
  });
}

absl::StatusOr<TrainStats> LearnerCore::Session::RewardModelPairs(
    const std::vector<PreferenceExample>& batch) {
  const RewardModelOptions& rm = options.reward_model;
  return Guard("reward-model update", [&]() -> absl::StatusOr<TrainStats> {
    const auto start = Clock::now();
    TrainStats stats;
    const int64_t n = static_cast<int64_t>(batch.size());
    Sums sums({"loss", "accuracy", "chosen", "rejected", "tokens"});
    const auto [begin, end] = Shard(0, n);
    RETURN_IF_ERROR(ForMicroBatches(begin, end, [&](int64_t a, int64_t b) -> absl::Status {
      std::vector<std::vector<int64_t>> prompts, responses;
      std::vector<float> margins;
      for (int64_t i = a; i < b; ++i) {
        prompts.push_back(batch[i].prompt);
        responses.push_back(batch[i].chosen);
        margins.push_back(
            static_cast<float>(rm.use_margin ? rm.margin_scale * batch[i].margin.value_or(0) : 0));
      }
      for (int64_t i = a; i < b; ++i) {
        prompts.push_back(batch[i].prompt);
        responses.push_back(batch[i].rejected);
      }
      ASSIGN_OR_RETURN(model::ResponseScores scores, Score(prompts, responses));
      const at::Tensor r = policy->Rewards(scores.last_hidden).select(-1, 0).to(torch::kFloat);
      const int64_t k = b - a;
      const at::Tensor chosen = r.narrow(0, 0, k), rejected = r.narrow(0, k, k);
      algorithms::RewardModelLossOptions loss_options;
      loss_options.center_rewards_coefficient = rm.center_rewards_coef;
      const algorithms::RewardModelLoss loss = algorithms::ComputeRewardModelLoss(
          chosen, rejected, rm.use_margin ? FloatTensor(margins, r.device()) : at::Tensor(),
          loss_options);
      // The loss is a mean over this micro-batch's k pairs: weight it by k / n.
      const double share = static_cast<double>(k) / static_cast<double>(n);
      Backward(loss.loss * (share * OfflineScale()), "reward-model loss");
      sums.Add("loss", loss.loss.item<double>() * share);
      sums.Add("accuracy", loss.accuracy.item<double>() * k);
      sums.Add("chosen", chosen.sum().item<double>());
      sums.Add("rejected", rejected.sum().item<double>());
      sums.Add("tokens", scores.mask.sum().item<double>());
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(sums.Reduce(*world));
    RETURN_IF_ERROR(FinishOfflineCall(&stats));
    stats.losses["reward_model"] = sums["loss"];
    stats.losses["total"] = sums["loss"];
    stats.metrics["rm/accuracy"] = sums["accuracy"] / n;
    stats.metrics["rewards/chosen"] = sums["chosen"] / n;
    stats.metrics["rewards/rejected"] = sums["rejected"] / n;
    stats.tokens = static_cast<uint64_t>(sums["tokens"]);
    stats.sequences = static_cast<uint64_t>(2 * n);
    CloseCall(&stats, start);
    return stats;
  });
}

absl::StatusOr<TrainStats> LearnerCore::Session::Kto(const std::vector<UnpairedExample>& batch) {
  const SessionOptions& o = options;
  return Guard("KTO update", [&]() -> absl::StatusOr<TrainStats> {
    const auto start = Clock::now();
    TrainStats stats;
    const int64_t n = static_cast<int64_t>(batch.size());
    const auto [begin, end] = Shard(0, n);
    // 1. The reference point z0 from the mismatched (prompt i, completion i+1) pairs, without
    //    gradients, over the whole batch (each rank scores its rows, then the sum).
    at::Tensor z0 = torch::zeros({});
    if (o.kto_reference_point == KtoReferencePoint::kBatchMismatched) {
      at::Tensor policy_kl = torch::zeros({n});
      std::vector<float> ref_kl;
      for (const UnpairedExample& e : batch)
        ref_kl.push_back(static_cast<float>(*e.ref_kl_logprob));
      torch::NoGradGuard no_grad;
      RETURN_IF_ERROR(ForMicroBatches(begin, end, [&](int64_t a, int64_t b) -> absl::Status {
        std::vector<std::vector<int64_t>> prompts, responses;
        for (int64_t i = a; i < b; ++i) {
          prompts.push_back(batch[i].prompt);
          responses.push_back(batch[(i + 1) % n].completion);
        }
        ASSIGN_OR_RETURN(model::ResponseScores scores, Score(prompts, responses));
        policy_kl.narrow(0, a, b - a).copy_((scores.logprobs * scores.mask).sum(1).to(torch::kCPU));
        return absl::OkStatus();
      }));
      RETURN_IF_ERROR(ReduceTensors({policy_kl}));
      z0 = algorithms::KtoKlEstimate(policy_kl, torch::tensor(ref_kl), o.kto);
    }
    stats.kl = z0.item<double>();
    // 2. The loss on this rank's rows, divided by the whole batch's size.
    Sums sums({"loss", "chosen", "rejected", "n_chosen", "n_rejected", "tokens"});
    RETURN_IF_ERROR(ForMicroBatches(begin, end, [&](int64_t a, int64_t b) -> absl::Status {
      std::vector<std::vector<int64_t>> prompts, responses;
      std::vector<float> refs;
      std::vector<uint8_t> labels;
      for (int64_t i = a; i < b; ++i) {
        prompts.push_back(batch[i].prompt);
        responses.push_back(batch[i].completion);
        refs.push_back(static_cast<float>(*batch[i].ref_logprob));
        labels.push_back(batch[i].desirable ? 1 : 0);
      }
      ASSIGN_OR_RETURN(model::ResponseScores scores, Score(prompts, responses));
      const at::Tensor logps = (scores.logprobs * scores.mask).sum(1);
      const auto device = logps.device();
      const at::Tensor label_tensor =
          torch::tensor(std::vector<int64_t>(labels.begin(), labels.end())).to(torch::kBool);
      const algorithms::KtoLoss kto = algorithms::ComputeKtoLoss(
          logps, FloatTensor(refs, device), label_tensor.to(device), z0.to(device), o.kto);
      Backward(kto.losses.sum() * (OfflineScale() / static_cast<double>(n)), "KTO loss");
      sums.Add("loss", kto.losses.sum().item<double>());
      sums.Add("chosen", kto.chosen_rewards.sum().item<double>());
      sums.Add("rejected", kto.rejected_rewards.sum().item<double>());
      sums.Add("n_chosen", static_cast<double>(kto.chosen_rewards.numel()));
      sums.Add("n_rejected", static_cast<double>(kto.rejected_rewards.numel()));
      sums.Add("tokens", scores.mask.sum().item<double>());
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(sums.Reduce(*world));
    RETURN_IF_ERROR(FinishOfflineCall(&stats));
    stats.losses["kto"] = sums["loss"] / n;
    stats.losses["total"] = stats.losses["kto"];
    if (sums["n_chosen"] > 0) stats.metrics["rewards/chosen"] = sums["chosen"] / sums["n_chosen"];
    if (sums["n_rejected"] > 0) {
      stats.metrics["rewards/rejected"] = sums["rejected"] / sums["n_rejected"];
    }
    stats.metrics["kto/z0"] = *stats.kl;
    stats.tokens = static_cast<uint64_t>(sums["tokens"]);
    stats.sequences = static_cast<uint64_t>(n);
    CloseCall(&stats, start);
    return stats;
  });
}

absl::StatusOr<TrainStats> LearnerCore::Session::Ranked(const std::vector<RankedGroup>& batch) {
  const SessionOptions& o = options;
  const bool rrhf = o.algorithm == Algorithm::kRrhf;
  int64_t total_pairs = 0;
  for (const RankedGroup& g : batch) {
    total_pairs += static_cast<int64_t>(algorithms::RankingToPairs(g.ranks).size());
  }
  return Guard(rrhf ? "RRHF update" : "reward-model update", [&]() -> absl::StatusOr<TrainStats> {
    const auto start = Clock::now();
    TrainStats stats;
    const int64_t n = static_cast<int64_t>(batch.size());
    Sums sums({"loss", "rank", "sft", "accuracy", "tokens", "sequences"});
    const auto [begin, end] = Shard(0, n);
    // One forward pass per group (its K responses side by side).
    for (int64_t gi = begin; gi < end; ++gi) {
      const RankedGroup& g = batch[gi];
      const std::vector<std::vector<int64_t>> prompts(g.responses.size(), g.prompt);
      ASSIGN_OR_RETURN(model::ResponseScores scores, Score(prompts, g.responses));
      sums.Add("tokens", scores.mask.sum().item<double>());
      sums.Add("sequences", static_cast<double>(g.responses.size()));
      if (rrhf) {
        std::vector<float> score;  // a better (lower) rank is a higher score
        for (int r : g.ranks) score.push_back(static_cast<float>(-r));
        algorithms::RrhfOptions rrhf_options = o.rrhf;
        const algorithms::RrhfLoss loss =
            algorithms::ComputeRrhfLoss(scores.logprobs * scores.mask, scores.mask,
                                        FloatTensor(score, scores.logprobs.device()), rrhf_options);
        const at::Tensor total =
            rrhf_options.rrhf_weight * loss.rank_loss + o.rrhf_sft_weight * loss.sft_loss;
        Backward(total * (OfflineScale() / static_cast<double>(n)), "RRHF loss");
        sums.Add("loss", total.item<double>());
        sums.Add("rank", loss.rank_loss.item<double>());
        sums.Add("sft", loss.sft_loss.item<double>());
      } else {
        const at::Tensor r = policy->Rewards(scores.last_hidden).select(-1, 0).to(torch::kFloat);
        const std::vector<std::pair<int, int>> pairs = algorithms::RankingToPairs(g.ranks);
        std::vector<int64_t> winners, losers;
        for (const auto& [w, l] : pairs) {
          winners.push_back(w);
          losers.push_back(l);
        }
        const auto device = r.device();
        const at::Tensor chosen = r.index_select(0, torch::tensor(winners).to(device));
        const at::Tensor rejected = r.index_select(0, torch::tensor(losers).to(device));
        algorithms::RewardModelLossOptions loss_options;
        loss_options.center_rewards_coefficient = o.reward_model.center_rewards_coef;
        const algorithms::RewardModelLoss loss =
            algorithms::ComputeRewardModelLoss(chosen, rejected, at::Tensor(), loss_options);
        const double share = static_cast<double>(pairs.size()) /
                             static_cast<double>(std::max<int64_t>(1, total_pairs));
        Backward(loss.loss * (share * OfflineScale()), "reward-model loss");
        sums.Add("loss", loss.loss.item<double>() * share * n);
        sums.Add("accuracy", loss.accuracy.item<double>() * static_cast<double>(pairs.size()));
      }
    }
    RETURN_IF_ERROR(sums.Reduce(*world));
    RETURN_IF_ERROR(FinishOfflineCall(&stats));
    if (rrhf) {
      stats.losses["rrhf"] = sums["rank"] / n;
      stats.losses["sft"] = sums["sft"] / n;
      stats.losses["total"] = sums["loss"] / n;
    } else {
      stats.losses["reward_model"] = sums["loss"] / n;
      stats.losses["total"] = sums["loss"] / n;
      stats.metrics["rm/accuracy"] = sums["accuracy"] / std::max<int64_t>(1, total_pairs);
      stats.metrics["rm/pairs"] = static_cast<double>(total_pairs);
    }
    stats.tokens = static_cast<uint64_t>(sums["tokens"]);
    stats.sequences = static_cast<uint64_t>(sums["sequences"]);
    CloseCall(&stats, start);
    return stats;
  });
}

}  // namespace plumb::learner
