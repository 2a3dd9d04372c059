// Updates on sampled experience: PPO (with the value head), the critic-free policy gradients
// (GRPO, RLOO, REINFORCE with a baseline) and rejection sampling (best-of-K SFT).
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/algorithms/advantages.h"
#include "common/algorithms/group_advantages.h"
#include "common/algorithms/policy_loss.h"
#include "common/status/status_macros.h"
#include "services/plumb-learner/learner_session.h"

namespace plumb::learner {
namespace {

using Clock = std::chrono::steady_clock;

// Batch whitening of one value per sequence (algorithms::WhitenBatch), if any.
at::Tensor Whiten(const at::Tensor& x, Whitening w) {
  if (w == Whitening::kNone) return x;
  return algorithms::WhitenBatch(x, /*subtract_mean=*/w == Whitening::kMeanStd);
}

// Sequence rewards after the no-EOS penalty, clipping and batch whitening.
at::Tensor ShapedRewards(const std::vector<Experience>& batch, const RewardShapingOptions& o) {
  std::vector<float> values;
  for (const Experience& e : batch) {
    double r = e.reward;
    if (!e.stopped && o.no_eos_penalty.has_value()) r += *o.no_eos_penalty;
    if (o.reward_clip.has_value()) r = std::clamp(r, -*o.reward_clip, *o.reward_clip);
    values.push_back(static_cast<float>(r));
  }
  return Whiten(torch::tensor(values), o.reward_whitening);
}

}  // namespace

// What the policy-gradient epochs optimise toward; [n, T] tensors over the whole batch.
struct LearnerCore::Session::PolicyTargets {
  at::Tensor old_logp, advantages, mask, ref;  // ref undefined unless the KL is in the loss
  at::Tensor old_values, returns;              // PPO only (undefined: no value loss)
  algorithms::PolicyLossOptions loss;
  std::optional<double> value_clip;
  double value_loss_coef = 0;
  double entropy_coef = 0;
  int epochs = 1;
  int64_t minibatch = 0;
  LossAggregation aggregation = LossAggregation::kTokenMean;
  std::optional<double> early_stop_kl;
};

absl::StatusOr<model::ResponseScores> LearnerCore::Session::ScoreRows(
    const std::vector<Experience>& batch, const std::vector<int64_t>& order, int64_t a, int64_t b,
    double temperature, bool with_entropy) {
  std::vector<std::vector<int64_t>> prompts, responses;
  for (int64_t i = a; i < b; ++i) {
    prompts.push_back(batch[order[i]].prompt);
    responses.push_back(batch[order[i]].response);
  }
  return Score(prompts, responses, temperature, with_entropy);
}

absl::Status LearnerCore::Session::BehaviourPass(const std::vector<Experience>& batch,
                                                 double temperature, bool values, at::Tensor* logp,
                                                 at::Tensor* old_values, at::Tensor* mask,
                                                 double* entropy_sum) {
  const int64_t n = static_cast<int64_t>(batch.size());
  int64_t width = 0;
  for (const Experience& e : batch) width = std::max<int64_t>(width, e.response.size());
  *logp = torch::zeros({n, width});
  *old_values = torch::zeros({n, width});
  *mask = torch::zeros({n, width});
  at::Tensor entropy = torch::zeros({1}, torch::kDouble);
  torch::NoGradGuard no_grad;
  std::vector<int64_t> identity(n);
  std::iota(identity.begin(), identity.end(), 0);
  const auto [begin, end] = Shard(0, n);
  RETURN_IF_ERROR(ForMicroBatches(begin, end, [&](int64_t a, int64_t b) -> absl::Status {
    ASSIGN_OR_RETURN(model::ResponseScores scores,
                     ScoreRows(batch, identity, a, b, temperature, /*with_entropy=*/true));
    const int64_t w = scores.logprobs.size(1);
    logp->narrow(0, a, b - a).narrow(1, 0, w).copy_(scores.logprobs.to(torch::kCPU));
    if (values) {
      ASSIGN_OR_RETURN(at::Tensor v, Values(batch, identity, a, b, scores));
      old_values->narrow(0, a, b - a).narrow(1, 0, w).copy_(v.to(torch::kCPU));
    }
    mask->narrow(0, a, b - a).narrow(1, 0, w).copy_(scores.mask.to(torch::kCPU));
    entropy += scores.entropy.sum().to(torch::kCPU).to(torch::kDouble);
    return absl::OkStatus();
  }));
  // Rows this rank did not compute are zero, so the sums are the whole batch on every rank.
  RETURN_IF_ERROR(ReduceTensors({*logp, *old_values, *mask, entropy}));
  *entropy_sum = entropy.item<double>();
  return absl::OkStatus();
}

absl::Status LearnerCore::Session::PolicyEpochs(const std::vector<Experience>& batch,
                                                double temperature, const PolicyTargets& t,
                                                TrainStats* stats) {
  const int64_t n = static_cast<int64_t>(batch.size());
  const int64_t width = t.mask.size(1);
  const int64_t minibatch = t.minibatch > 0 ? t.minibatch : n;
  const bool has_values = t.returns.defined();
  algorithms::PolicyLossOptions loss_options = t.loss;
  loss_options.token_level = t.aggregation != LossAggregation::kSequenceMean;
  // The loss's precondition, checked before any work (SessionOptions::Validate implies it).
  RETURN_IF_ERROR(algorithms::ValidatePolicyLossOptions(loss_options));
  train::StatSums sums({"policy", "value", "entropy", "kl_loss", "clip", "approx_kl", "value_sq",
                        "tokens", "minibatches"});
  int epochs_run = 0;
  bool stopped_early = false;
  ZeroGrad();
  // With several minibatches each epoch takes the rows in its own order (MinibatchOrder); the
  // targets are permuted to match, so minibatch [m0, m1) is rows order[m0..m1).
  const bool shuffle = minibatch < n;
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  PolicyTargets e = t;
  for (int epoch = 0; epoch < std::max(1, t.epochs) && !stopped_early; ++epoch) {
    ++epochs_run;
    if (shuffle) {
      order = MinibatchOrder(options.seed, call_start_version, epoch, n);
      const at::Tensor index = torch::tensor(order, torch::kLong);
      auto permute = [&](const at::Tensor& x) {
        return x.defined() ? x.index_select(0, index) : x;
      };
      e.old_logp = permute(t.old_logp);
      e.advantages = permute(t.advantages);
      e.mask = permute(t.mask);
      e.ref = permute(t.ref);
      e.old_values = permute(t.old_values);
      e.returns = permute(t.returns);
    }
    for (int64_t m0 = 0; m0 < n && !stopped_early; m0 += minibatch) {
      const int64_t m1 = std::min(n, m0 + minibatch);
      const double mb_tokens = e.mask.narrow(0, m0, m1 - m0).sum().item<double>();
      const double mb_sequences = static_cast<double>(m1 - m0);
      double minibatch_kl = 0;
      const auto [begin, end] = Shard(m0, m1);
      RETURN_IF_ERROR(ForMicroBatches(begin, end, [&](int64_t a, int64_t b) -> absl::Status {
        ASSIGN_OR_RETURN(model::ResponseScores now,
                         ScoreRows(batch, order, a, b, temperature, t.entropy_coef != 0));
        const int64_t w = now.logprobs.size(1);
        auto slice = [&](const at::Tensor& x) {
          return x.narrow(0, a, b - a).narrow(1, 0, w).to(now.logprobs.device());
        };
        const at::Tensor m = slice(e.mask);
        const double tokens = m.sum().item<double>();
        // This micro-batch's weight in the minibatch's loss, by the reduction in use.
        double share = 0;
        switch (t.aggregation) {
          case LossAggregation::kTokenMean:
            share = tokens / std::max(1.0, mb_tokens);
            break;
          case LossAggregation::kSequenceMean:
            share = static_cast<double>(b - a) / mb_sequences;
            break;
          case LossAggregation::kTokenSumNorm:
            share = tokens / (mb_sequences * static_cast<double>(std::max<int64_t>(1, width)));
            break;
        }
        const algorithms::PolicyLossResult pl =
            algorithms::PpoPolicyLoss(now.logprobs, slice(e.old_logp), slice(e.advantages), m,
                                      loss_options, e.ref.defined() ? slice(e.ref) : at::Tensor());
        at::Tensor loss = pl.loss;
        if (has_values) {
          ASSIGN_OR_RETURN(const at::Tensor values, Values(batch, order, a, b, now));
          const at::Tensor vl =
              algorithms::ClippedValueLoss(values, slice(e.old_values), slice(e.returns), m,
                                           t.value_clip, loss_options.token_level);
          // A separate critic learns from the value loss alone (its own optimizer sets its
          // pace); the shared value head's loss is weighted against the policy's.
          loss = loss + (critic ? 1.0 : t.value_loss_coef) * vl;
          sums.Add("value", vl.item<double>() * share);
          sums.Add("value_sq",
                   ((values.detach() - slice(e.returns)).pow(2) * m).sum().item<double>());
        }
        if (t.entropy_coef != 0) {
          const at::Tensor entropy = now.entropy.sum() / m.sum().clamp_min(1);
          loss = loss - t.entropy_coef * entropy;
          sums.Add("entropy", entropy.item<double>() * share);
        }
        Backward(loss * share, has_values ? "PPO loss" : "policy-gradient loss");
        sums.Add("policy", (pl.loss.item<double>() - pl.kl_loss.item<double>()) * share);
        sums.Add("kl_loss", pl.kl_loss.item<double>() * share);
        sums.Add("clip", pl.clip_ratio.item<double>() * tokens);
        sums.Add("approx_kl", pl.approx_kl.item<double>() * tokens);
        sums.Add("tokens", tokens);
        minibatch_kl += pl.approx_kl.item<double>() * tokens;
        return absl::OkStatus();
      }));
      sums.Add("minibatches", world->rank() == 0 ? 1 : 0);
      RETURN_IF_ERROR(Step(stats).status());
      if (t.early_stop_kl.has_value()) {
        // The minibatch's token-mean approximate KL to the behaviour policy, over all ranks.
        ASSIGN_OR_RETURN(std::vector<double> kl,
                         world->AllReduceSum(std::vector<double>{minibatch_kl}));
        if (kl[0] / std::max(1.0, mb_tokens) > *t.early_stop_kl) stopped_early = true;
      }
    }
  }
  RETURN_IF_ERROR(sums.AllReduce(*world));
  const double steps_taken = std::max(1.0, sums.Sum("minibatches"));
  const double tokens = std::max(1.0, sums.Sum("tokens"));
  stats->losses["policy"] = sums.Sum("policy") / steps_taken;
  double total = stats->losses["policy"];
  if (t.loss.kl_loss_coef > 0) {
    stats->losses["kl"] = sums.Sum("kl_loss") / steps_taken;
    total += stats->losses["kl"];
  }
  if (has_values) {
    stats->losses["value"] = sums.Sum("value") / steps_taken;
    stats->value_error = sums.Sum("value_sq") / tokens;
    total += (critic ? 1.0 : t.value_loss_coef) * stats->losses["value"];
  }
  if (t.entropy_coef != 0) {
    stats->losses["entropy"] = -sums.Sum("entropy") / steps_taken;
    total += t.entropy_coef * stats->losses["entropy"];
  }
  stats->losses["total"] = total;
  stats->clip_fraction = sums.Sum("clip") / tokens;
  stats->metrics["ppo/approx_kl"] = sums.Sum("approx_kl") / tokens;
  stats->metrics["epochs"] = epochs_run;
  if (t.early_stop_kl.has_value()) stats->metrics["early_stopped"] = stopped_early ? 1 : 0;
  stats->tokens = static_cast<uint64_t>(sums.Sum("tokens"));
  stats->sequences = static_cast<uint64_t>(n) * static_cast<uint64_t>(epochs_run);
  return absl::OkStatus();
}

absl::StatusOr<TrainStats> LearnerCore::Session::Ppo(const std::vector<Experience>& batch,
                                                     double temperature) {
  const SessionOptions& o = options;
  activity = "PPO update";
  const auto start = Clock::now();
  TrainStats stats;
  const int64_t n = static_cast<int64_t>(batch.size());
  PolicyTargets t;
  double entropy_sum = 0;
  // 1. Behaviour log-probs and values under the current weights, without gradients.
  RETURN_IF_ERROR(BehaviourPass(batch, temperature, /*values=*/true, &t.old_logp, &t.old_values,
                                &t.mask, &entropy_sum));
  const int64_t width = t.mask.size(1);
  std::vector<std::vector<float>> given, refs;
  bool all_given = true;
  for (const Experience& e : batch) {
    given.push_back(e.logprobs);
    all_given = all_given && !e.logprobs.empty();
    refs.push_back(e.ref_logprobs);
  }
  if (all_given && !o.ppo.recompute_behavior_logprobs) t.old_logp = Padded(given, width);
  stats.entropy = entropy_sum / std::max(1.0, t.mask.sum().item<double>());
  RewardShapingOptions shaping = o.ppo.shaping;
  const std::optional<double> clip = shaping.reward_clip;
  shaping.reward_clip.reset();  // clipped below, on the score KlShapedReward places
  const at::Tensor scores = ShapedRewards(batch, shaping);
  {
    std::vector<float> r;
    for (const Experience& e : batch) r.push_back(static_cast<float>(e.reward));
    const at::Tensor rewards = torch::tensor(r);
    stats.reward_mean = rewards.mean().item<double>();
    stats.reward_std = n > 1 ? rewards.std().item<double>() : 0.0;
  }
  // 2. KL to the reference, KL-shaped rewards (unless the KL is in the loss), GAE, whitening.
  const double kl_coef = kl.value();
  at::Tensor token_kl = torch::zeros({n, width});
  if (kl_coef > 0) {
    t.ref = Padded(refs, width);
    token_kl = algorithms::ApproxKl(t.old_logp, t.ref, o.ppo.kl_estimator) * t.mask;
  }
  std::optional<std::pair<double, double>> clip_range;
  if (clip.has_value()) clip_range = std::make_pair(-*clip, *clip);
  const at::Tensor shaped =
      algorithms::KlShapedReward(scores, o.ppo.kl_in_loss ? torch::zeros_like(token_kl) : token_kl,
                                 t.mask, o.ppo.kl_in_loss ? 0.0 : kl_coef, clip_range);
  const algorithms::GaeResult gae =
      algorithms::Gae(t.old_values, shaped, t.mask, o.ppo.gamma, o.ppo.lambda);
  t.returns = gae.returns;
  t.advantages =
      o.ppo.whiten_advantages
          ? algorithms::WhitenAdvantages(gae.advantages, t.mask, algorithms::WhitenStyle::kOpenRlhf)
          : gae.advantages;
  if (o.ppo.tis_cap.has_value()) {
    // Truncated importance sampling: the rollouts were sampled by (possibly older) behaviour
    // weights; each token counts min(pi_learner / pi_behaviour, cap) times. Scaling a token's
    // advantage by a weight >= 0 scales its clipped objective by the same weight.
    if (!all_given) {
      return absl::InvalidArgumentError(
          "ppo.tis_cap: every experience must carry its rollout log-probs");
    }
    const at::Tensor behaviour = Padded(given, width);
    const at::Tensor weight = (t.old_logp - behaviour).exp().clamp_max(*o.ppo.tis_cap) * t.mask;
    t.advantages = t.advantages * weight;
    stats.metrics["tis/weight_mean"] = (weight.sum() / t.mask.sum().clamp_min(1)).item<double>();
    stats.metrics["tis/capped_fraction"] =
        (((t.old_logp - behaviour).exp() > *o.ppo.tis_cap).to(torch::kFloat) * t.mask)
            .sum()
            .item<double>() /
        std::max(1.0, t.mask.sum().item<double>());
  }
  const double mean_kl = token_kl.sum(1).mean().item<double>();
  stats.kl = mean_kl;
  stats.kl_coef = kl_coef;
  // 3. Epochs of minibatches, one optimizer step each.
  t.loss.clip_eps_low = o.ppo.clip_low;
  t.loss.clip_eps_high = o.ppo.clip_high;
  t.loss.dual_clip = o.ppo.dual_clip;
  if (o.ppo.kl_in_loss && kl_coef > 0) {
    t.loss.kl_loss_coef = kl_coef;
    t.loss.kl_loss_estimator = o.ppo.kl_estimator;
  } else {
    t.ref = at::Tensor();
  }
  t.value_clip = o.ppo.value_clip;
  t.value_loss_coef = o.ppo.value_loss_coef;
  t.entropy_coef = o.ppo.entropy_coef;
  t.epochs = o.ppo.epochs;
  t.minibatch = o.ppo.minibatch_size;
  t.aggregation = o.ppo.aggregation;
  t.early_stop_kl = o.ppo.early_stop_kl;
  RETURN_IF_ERROR(PolicyEpochs(batch, temperature, t, &stats));
  kl.Update(mean_kl, n);
  CloseCall(&stats, start);
  return stats;
}

absl::StatusOr<TrainStats> LearnerCore::Session::CriticFree(const std::vector<Experience>& batch,
                                                            double temperature) {
  const SessionOptions& o = options;
  const CriticFreeOptions& c = o.critic_free;
  ASSIGN_OR_RETURN(const LearnerAlgorithmKind* kind, LearnerAlgorithmOf(o.algorithm));
  const SequenceAdvantage advantage = kind->advantage;
  activity = absl::StrCat(kind->label, " update");
  const auto start = Clock::now();
  TrainStats stats;
  const int64_t n = static_cast<int64_t>(batch.size());
  PolicyTargets t;
  double entropy_sum = 0;
  at::Tensor unused_values;
  RETURN_IF_ERROR(BehaviourPass(batch, temperature, /*values=*/false, &t.old_logp, &unused_values,
                                &t.mask, &entropy_sum));
  const int64_t width = t.mask.size(1);
  std::vector<std::vector<float>> given, refs;
  bool all_given = true;
  std::vector<float> raw;
  for (const Experience& e : batch) {
    given.push_back(e.logprobs);
    all_given = all_given && !e.logprobs.empty();
    refs.push_back(e.ref_logprobs);
    raw.push_back(static_cast<float>(e.reward));
  }
  if (all_given) t.old_logp = Padded(given, width);
  stats.entropy = entropy_sum / std::max(1.0, t.mask.sum().item<double>());
  const at::Tensor raw_rewards = torch::tensor(raw);
  stats.reward_mean = raw_rewards.mean().item<double>();
  stats.reward_std = n > 1 ? raw_rewards.std().item<double>() : 0.0;
  at::Tensor rewards = ShapedRewards(batch, c.shaping);
  // Sequence KL to the reference (from the behaviour log-probs), in the reward or the loss.
  if (c.kl.coef > 0) {
    t.ref = Padded(refs, width);
    const at::Tensor seq_kl =
        (algorithms::ApproxKl(t.old_logp, t.ref, c.kl.estimator) * t.mask).sum(1);
    stats.kl = seq_kl.mean().item<double>();
    if (!c.kl.in_loss) rewards = rewards - c.kl.coef * seq_kl;
  }
  stats.kl_coef = c.kl.coef;
  // One advantage per sequence.
  at::Tensor advantages = torch::zeros({n});
  if (advantage != SequenceAdvantage::kBaseline) {
    std::map<std::string, std::vector<int64_t>> groups;
    for (int64_t i = 0; i < n; ++i) groups[batch[i].group].push_back(i);
    for (const auto& [group, members] : groups) {
      const at::Tensor index = torch::tensor(members, torch::kLong);
      const at::Tensor r = rewards.index_select(0, index).unsqueeze(1).to(torch::kDouble);
      const at::Tensor weights = torch::ones({1}, torch::kDouble);
      at::Tensor a;
      if (advantage == SequenceAdvantage::kGroupNormalized) {
        algorithms::GrpoAdvantageOptions g;
        g.num_generations = static_cast<int64_t>(members.size());
        g.scale_rewards = c.scale_by_group_std ? algorithms::RewardScaling::kGroup
                                               : algorithms::RewardScaling::kNone;
        ASSIGN_OR_RETURN(algorithms::GrpoAdvantages grpo,
                         algorithms::ComputeGrpoAdvantages(r, weights, g));
        a = grpo.advantages;
      } else {
        // The KL is already in `rewards`, so the leave-one-out baseline sees it (as TRL).
        algorithms::RlooAdvantageOptions l;
        l.num_generations = static_cast<int64_t>(members.size());
        l.beta = 0;
        const at::Tensor zeros = torch::zeros({l.num_generations, 1}, torch::kDouble);
        ASSIGN_OR_RETURN(algorithms::RlooAdvantages rloo,
                         algorithms::ComputeRlooAdvantages(r, weights, zeros, zeros,
                                                           torch::ones_like(zeros), l));
        a = rloo.advantages;
      }
      advantages.index_copy_(0, index, a.to(torch::kFloat));
    }
  } else {
    const double mean = rewards.mean().item<double>();
    double baseline = 0;
    switch (c.baseline) {
      case BaselineKind::kBatchMean:
        baseline = mean;
        break;
      case BaselineKind::kMovingAverage:
        baseline = this->baseline.value_or(mean);
        this->baseline = c.baseline_decay * baseline + (1 - c.baseline_decay) * mean;
        stats.metrics["reinforce/baseline"] = baseline;
        break;
      case BaselineKind::kNone:
        break;
    }
    advantages = rewards - baseline;
  }
  // Group-normalised advantages are normalised within their group already.
  if (advantage != SequenceAdvantage::kGroupNormalized) {
    advantages = Whiten(advantages, c.advantage_whitening);
  }
  stats.metrics["advantage_mean"] = advantages.mean().item<double>();
  t.advantages = advantages.unsqueeze(1).expand({n, width}).contiguous() * t.mask;
  if (c.clip_low.has_value()) {
    t.loss.clip_eps_low = *c.clip_low;
    t.loss.clip_eps_high = c.clip_high.value_or(*c.clip_low);
  } else {
    // No clipping: the ratio's bounds are set out of reach (1e-6 and 1e6).
    t.loss.clip_eps_low = 1 - 1e-6;
    t.loss.clip_eps_high = 1e6;
  }
  if (c.kl.in_loss && c.kl.coef > 0) {
    t.loss.kl_loss_coef = c.kl.coef;
    t.loss.kl_loss_estimator = c.kl.estimator;
  } else {
    t.ref = at::Tensor();
  }
  t.epochs = c.epochs;
  t.minibatch = c.minibatch_size;
  t.aggregation = c.aggregation;
  RETURN_IF_ERROR(PolicyEpochs(batch, temperature, t, &stats));
  CloseCall(&stats, start);
  return stats;
}

absl::StatusOr<TrainStats> LearnerCore::Session::RejectionSampling(
    const std::vector<Experience>& batch) {
  const RejectionSamplingOptions& o = options.rejection_sampling;
  // The best top_n of each prompt group (highest reward first; the earlier sample wins ties).
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < batch.size(); ++i) groups[batch[i].group].push_back(i);
  std::vector<SftExample> selected;
  double reward_sum = 0;
  for (auto& [group, members] : groups) {
    std::stable_sort(members.begin(), members.end(),
                     [&](size_t a, size_t b) { return batch[a].reward > batch[b].reward; });
    int kept = 0;
    for (size_t i : members) {
      const Experience& e = batch[i];
      if (kept >= o.top_n) break;
      if (o.min_reward.has_value() && e.reward < *o.min_reward) continue;
      if (o.drop_truncated && !e.stopped) continue;
      selected.push_back({group, e.prompt, e.response, 1.0});
      reward_sum += e.reward;
      ++kept;
    }
  }
  if (selected.empty()) {
    return absl::InvalidArgumentError("no sample passed the rejection-sampling filters");
  }
  absl::StatusOr<TrainStats> stats = Sft(selected);
  if (stats.ok()) {
    stats->metrics["rs/selected"] = static_cast<double>(selected.size());
    stats->metrics["rs/selected_reward_mean"] = reward_sum / selected.size();
  }
  return stats;
}

}  // namespace plumb::learner
