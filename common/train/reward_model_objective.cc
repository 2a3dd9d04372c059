// Reward-model training: the Bradley-Terry pairwise loss on the reward head's output at each
// sequence's last token, with the Llama 2 margin when the pair carries one and optional reward
// centering; normalised by the pairs of the whole global batch.
#include <torch/torch.h>

#include "common/algorithms/reward_model_loss.h"
#include "common/status/status_macros.h"
#include "common/train/objective_factories.h"
#include "common/train/objective_support.h"
#include "common/train/sequence_scoring.h"

namespace plumb::train {
namespace {

class RewardModelObjective : public Objective {
 public:
  RewardModelObjective(const RewardModelOptions& options, ObjectiveModels models,
                       const ExampleEncoder* encoder)
      : options_(options), models_(models), encoder_(encoder) {}

  absl::Status AccumulateGradients(const StepContext& ctx, StatSums* stats) override {
    double global_pairs = 0;
    for (const data::Example& example : *ctx.batch) {
      ASSIGN_OR_RETURN(std::vector<data::PreferencePair> pairs, PairsOf(example, "reward_model"));
      global_pairs += pairs.size();
    }
    if (global_pairs == 0) return absl::InvalidArgumentError("a batch with no preference pairs");
    ASSIGN_OR_RETURN(std::vector<EncodedPair> pairs,
                     EncodePairs(*encoder_, *ctx.batch, ctx.begin, ctx.end, "reward_model"));
    return ForEachChunk(0, pairs.size(), ctx.micro_batch_size, [&](int64_t a, int64_t b) {
      AutocastScope autocast(ctx.bf16_autocast, models_.cuda);
      ASSIGN_OR_RETURN(Rewards rewards, Score(pairs, a, b));
      const at::Tensor loss_sum = LossSum(rewards, pairs, a, b);
      (loss_sum / global_pairs).backward();
      AddStats(rewards, loss_sum, stats);
      tokens_seen_ += PairTokens(pairs, a, b);
      return absl::OkStatus();
    });
  }

  absl::Status Evaluate(const std::vector<data::Example>& examples, int64_t batch_size,
                        StatSums* stats) override {
    ASSIGN_OR_RETURN(std::vector<EncodedPair> pairs,
                     EncodePairs(*encoder_, examples, 0, examples.size(), "reward_model"));
    torch::NoGradGuard no_grad;
    return ForEachChunk(0, pairs.size(), batch_size, [&](int64_t a, int64_t b) {
      ASSIGN_OR_RETURN(Rewards rewards, Score(pairs, a, b));
      AddStats(rewards, LossSum(rewards, pairs, a, b), stats);
      return absl::OkStatus();
    });
  }

 private:
  struct Rewards {
    at::Tensor chosen, rejected;  // [n] float32
  };

  absl::StatusOr<Rewards> Score(const std::vector<EncodedPair>& pairs, int64_t a, int64_t b) {
    ASSIGN_OR_RETURN(SequenceScores scores,
                     ScoreResponses(*models_.policy, ChosenThenRejected(pairs, a, b)));
    const at::Tensor r = models_.policy->Rewards(scores.last_hidden)
                             .select(-1, options_.output_index)
                             .to(torch::kFloat);
    const int64_t n = b - a;
    return Rewards{r.narrow(0, 0, n), r.narrow(0, n, n)};
  }

  // The summed loss of pairs [a, b): the library's batch mean times the pair count.
  at::Tensor LossSum(const Rewards& rewards, const std::vector<EncodedPair>& pairs, int64_t a,
                     int64_t b) const {
    at::Tensor margin;
    if (options_.use_margin) {
      std::vector<float> m;
      for (int64_t i = a; i < b; ++i) m.push_back(static_cast<float>(pairs[i].margin));
      margin = torch::tensor(m, torch::kFloat).to(rewards.chosen.device());
    }
    algorithms::RewardModelLossOptions loss_options;
    loss_options.center_rewards_coefficient = options_.center_rewards_coefficient;
    return algorithms::ComputeRewardModelLoss(rewards.chosen, rewards.rejected, margin,
                                              loss_options)
               .loss *
           static_cast<double>(b - a);
  }

  static void AddStats(const Rewards& rewards, const at::Tensor& loss_sum, StatSums* stats) {
    const double n = static_cast<double>(rewards.chosen.size(0));
    stats->Add("loss", SumOf(loss_sum), n);
    stats->Add("accuracy", SumOf((rewards.chosen > rewards.rejected).to(torch::kDouble)), n);
    AddRewardStats(rewards.chosen, rewards.rejected, stats);
  }

  RewardModelOptions options_;
  ObjectiveModels models_;
  const ExampleEncoder* encoder_;
};

}  // namespace

std::unique_ptr<Objective> MakeRewardModelObjective(const RewardModelOptions& options,
                                                    ObjectiveModels models,
                                                    const ExampleEncoder* encoder) {
  return std::make_unique<RewardModelObjective>(options, models, encoder);
}

}  // namespace plumb::train
