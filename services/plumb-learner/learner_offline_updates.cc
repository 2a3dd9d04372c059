// Offline updates: SFT, the pairwise objectives (DPO family with the RPO term, ORPO, SimPO,
// reward model), KTO on unpaired examples and RRHF / reward model on ranked groups. The maths is
// common/train's (offline_updates.h, shared with plumb-train); here each call hands it this
// rank's rows, then sums the statistics across ranks, counts the call toward
// gradient_accumulation_steps (stepping when due) and reports TrainStats.
#include <torch/torch.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/algorithms/reward_model_loss.h"
#include "common/api/learner_limits.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "services/plumb-learner/learner_offline_batches.h"
#include "services/plumb-learner/learner_session.h"

namespace plumb::learner {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

train::UpdateContext LearnerCore::Session::OfflineContext(int64_t n, const std::string& what) {
  train::UpdateContext context;
  context.world = world;
  std::tie(context.begin, context.end) = Shard(0, n);
  context.micro_batch_size = options.micro_batch_size;
  context.bf16_autocast = options.bf16_mixed;
  context.cuda = options.device != "cpu";
  context.loss_scale = OfflineScale();
  context.backward = [this, what](const at::Tensor& loss) { Backward(loss, what); };
  context.before_micro_batch = [this] { return CancelCheck(); };
  return context;
}

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
  activity = "SFT update";
  const auto start = Clock::now();
  TrainStats stats;
  const int64_t n = static_cast<int64_t>(batch.size());
  ASSIGN_OR_RETURN(train::StatSums sums,
                   train::SftUpdate(*policy, SftItems(batch), {}, OfflineContext(n, "SFT loss")));
  RETURN_IF_ERROR(sums.AllReduce(*world));
  RETURN_IF_ERROR(FinishOfflineCall(&stats));
  stats.losses["sft"] = sums.Mean("loss");
  stats.losses["total"] = stats.losses["sft"];
  stats.tokens = static_cast<uint64_t>(sums.Sum("tokens"));
  stats.sequences = static_cast<uint64_t>(n);
  CloseCall(&stats, start);
  return stats;
}

absl::StatusOr<TrainStats> LearnerCore::Session::Pairs(
    const std::vector<PreferenceExample>& batch) {
  if (TrainsRewardHead(options)) return RewardModel(RankedItems(batch), /*pairs=*/true);
  const train::ObjectiveOptions objective = ObjectiveOptionsOf(options);
  const std::string& term = objective.kind;
  const bool nll =
      objective.kind == "orpo" ||
      (objective.kind == "simpo" ? objective.simpo.cpo_alpha : objective.dpo_sft_weight) != 0;
  activity = absl::StrCat(term, " update");
  const auto start = Clock::now();
  TrainStats stats;
  const int64_t n = static_cast<int64_t>(batch.size());
  ASSIGN_OR_RETURN(train::StatSums sums,
                   train::PairUpdate(*policy, PairItems(batch), objective,
                                     OfflineContext(n, absl::StrCat(term, " loss"))));
  RETURN_IF_ERROR(sums.AllReduce(*world));
  RETURN_IF_ERROR(FinishOfflineCall(&stats));
  stats.losses[term] = sums.Sum("pair_loss") / static_cast<double>(n);
  if (nll) stats.losses["sft"] = sums.Mean("nll_loss");
  stats.losses["total"] = sums.Mean("loss");
  stats.metrics[absl::StrCat(term, "/accuracy")] = sums.Mean("rewards/accuracy");
  stats.metrics[absl::StrCat(term, "/margin")] = sums.Mean("rewards/margin");
  stats.metrics["rewards/chosen"] = sums.Mean("rewards/chosen");
  stats.metrics["rewards/rejected"] = sums.Mean("rewards/rejected");
  stats.tokens = static_cast<uint64_t>(sums.Sum("tokens"));
  stats.sequences = static_cast<uint64_t>(2 * n);
  CloseCall(&stats, start);
  return stats;
}

absl::StatusOr<TrainStats> LearnerCore::Session::RewardModel(
    const std::vector<train::RankedItem>& groups, bool pairs) {
  const train::ObjectiveOptions objective = ObjectiveOptionsOf(options);
  activity = "reward-model update";
  const auto start = Clock::now();
  TrainStats stats;
  const int64_t n = static_cast<int64_t>(groups.size());
  const int epochs = std::max(1, options.reward_model.epochs);
  const int64_t minibatch = options.reward_model.minibatch_size > 0
                                ? std::min<int64_t>(n, options.reward_model.minibatch_size)
                                : n;
  train::StatSums sums;
  double tokens = 0, sequences = 0;  // over every pass
  if (epochs == 1 && minibatch == n) {
    // One step on the whole call (gradient accumulation may span calls).
    ASSIGN_OR_RETURN(sums, train::RewardModelUpdate(*policy, groups, objective.reward_model,
                                                    OfflineContext(n, "reward-model loss")));
    RETURN_IF_ERROR(sums.AllReduce(*world));
    RETURN_IF_ERROR(FinishOfflineCall(&stats));
    tokens = sums.Sum("tokens");
    sequences = sums.Sum("sequences");
  } else {
    // Epochs of minibatches, one step each; every pass takes the comparisons in its own order.
    // The statistics are the first pass's: each comparison scored once, before any step on it
    // (so rm/accuracy stays an accuracy on unseen comparisons); the last pass's accuracy is
    // rm/last_pass_accuracy.
    ZeroGrad();
    train::StatSums last;
    for (int epoch = 0; epoch < epochs; ++epoch) {
      const std::vector<int64_t> order = MinibatchOrder(options.seed, call_start_version, epoch, n);
      train::StatSums pass;
      for (int64_t m0 = 0; m0 < n; m0 += minibatch) {
        const int64_t m1 = std::min(n, m0 + minibatch);
        std::vector<train::RankedItem> part;
        part.reserve(static_cast<size_t>(m1 - m0));
        for (int64_t k = m0; k < m1; ++k) part.push_back(groups[static_cast<size_t>(order[k])]);
        train::UpdateContext context = OfflineContext(m1 - m0, "reward-model loss");
        context.loss_scale = 1.0;
        ASSIGN_OR_RETURN(train::StatSums step,
                         train::RewardModelUpdate(*policy, part, objective.reward_model, context));
        RETURN_IF_ERROR(step.AllReduce(*world));
        RETURN_IF_ERROR(Step(&stats).status());
        tokens += step.Sum("tokens");
        sequences += step.Sum("sequences");
        pass.Merge(step);
      }
      if (epoch == 0) sums = pass;
      last = std::move(pass);
    }
    stats.metrics["epochs"] = epochs;
    stats.metrics["rm/last_pass_accuracy"] = last.Mean("accuracy");
  }
  stats.losses["reward_model"] = sums.Mean("loss");
  stats.losses["total"] = sums.Mean("loss");
  stats.metrics["rm/accuracy"] = sums.Mean("accuracy");
  if (pairs) {
    stats.metrics["rewards/chosen"] = sums.Mean("rewards/chosen");
    stats.metrics["rewards/rejected"] = sums.Mean("rewards/rejected");
  } else {
    stats.metrics["rm/pairs"] = sums.values().at("accuracy").second;
  }
  stats.tokens = static_cast<uint64_t>(tokens);
  stats.sequences = static_cast<uint64_t>(sequences);
  CloseCall(&stats, start);
  return stats;
}

absl::StatusOr<TrainStats> LearnerCore::Session::Kto(const std::vector<UnpairedExample>& batch) {
  activity = "KTO update";
  const auto start = Clock::now();
  TrainStats stats;
  const int64_t n = static_cast<int64_t>(batch.size());
  ASSIGN_OR_RETURN(train::StatSums sums,
                   train::KtoUpdate(*policy, UnpairedItems(batch), ObjectiveOptionsOf(options),
                                    OfflineContext(n, "KTO loss")));
  RETURN_IF_ERROR(sums.AllReduce(*world));
  RETURN_IF_ERROR(FinishOfflineCall(&stats));
  stats.losses["kto"] = sums.Mean("loss");
  stats.losses["total"] = stats.losses["kto"];
  stats.kl = sums.Mean("kl");
  for (const char* name : {"rewards/chosen", "rewards/rejected"}) {
    if (sums.values().at(name).second > 0) stats.metrics[name] = sums.Mean(name);
  }
  stats.metrics["kto/z0"] = *stats.kl;
  stats.tokens = static_cast<uint64_t>(sums.Sum("tokens"));
  stats.sequences = static_cast<uint64_t>(n);
  CloseCall(&stats, start);
  return stats;
}

absl::StatusOr<TrainStats> LearnerCore::Session::Ranked(const std::vector<RankedGroup>& batch) {
  if (TrainsRewardHead(options)) {
    return RewardModel(RankedItems(batch), /*pairs=*/false);
  }
  activity = "RRHF update";
  const auto start = Clock::now();
  TrainStats stats;
  const int64_t n = static_cast<int64_t>(batch.size());
  ASSIGN_OR_RETURN(train::StatSums sums,
                   train::RrhfUpdate(*policy, RankedItems(batch), ObjectiveOptionsOf(options),
                                     OfflineContext(n, "RRHF loss")));
  RETURN_IF_ERROR(sums.AllReduce(*world));
  RETURN_IF_ERROR(FinishOfflineCall(&stats));
  stats.losses["rrhf"] = sums.Mean("rank_loss");
  stats.losses["sft"] = sums.Mean("sft_loss");
  stats.losses["total"] = sums.Mean("loss");
  stats.tokens = static_cast<uint64_t>(sums.Sum("tokens"));
  stats.sequences = static_cast<uint64_t>(sums.Sum("sequences"));
  CloseCall(&stats, start);
  return stats;
}

}  // namespace plumb::learner
