// RRHF: for each prompt, its candidate responses ranked by reward (rank 1 = best, so the reward
// given to the loss is -rank); the ranking hinge on length-normalised log-probs plus the SFT term
// on the best candidate. Losses are per prompt, averaged over the prompts of the global batch.
#include <torch/torch.h>

#include <variant>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/train/objective_factories.h"
#include "common/train/objective_support.h"
#include "common/train/sequence_scoring.h"

namespace plumb::train {
namespace {

struct Candidates {
  std::vector<EncodedSequence> responses;
  std::vector<double> rewards;  // -rank
};

class RrhfObjective : public Objective {
 public:
  RrhfObjective(const algorithms::RrhfOptions& options, ObjectiveModels models,
                const ExampleEncoder* encoder)
      : options_(options), models_(models), encoder_(encoder) {}

  absl::Status AccumulateGradients(const StepContext& ctx, StatSums* stats) override {
    const double global = static_cast<double>(ctx.batch->size());
    for (int64_t i = ctx.begin; i < ctx.end; ++i) {
      ASSIGN_OR_RETURN(Candidates candidates, Encode((*ctx.batch)[i]));
      AutocastScope autocast(ctx.bf16_autocast, models_.cuda);
      ASSIGN_OR_RETURN(at::Tensor loss, Loss(candidates, stats));
      (loss / global).backward();
    }
    return absl::OkStatus();
  }

  absl::Status Evaluate(const std::vector<data::Example>& examples, int64_t batch_size,
                        StatSums* stats) override {
    torch::NoGradGuard no_grad;
    for (const data::Example& example : examples) {
      ASSIGN_OR_RETURN(Candidates candidates, Encode(example));
      RETURN_IF_ERROR(Loss(candidates, stats).status());
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<Candidates> Encode(const data::Example& example) const {
    std::string prompt;
    std::vector<absl::string_view> texts;
    Candidates out;
    if (const auto* list = std::get_if<data::RankedList>(&example.value)) {
      prompt = list->prompt;
      for (size_t i = 0; i < list->responses.size(); ++i) {
        texts.push_back(list->responses[i]);
        out.rewards.push_back(-static_cast<double>(list->ranks[i]));
      }
    } else if (const auto* pair = std::get_if<data::PreferencePair>(&example.value)) {
      prompt = pair->prompt;
      texts = {pair->chosen, pair->rejected};
      out.rewards = {-1.0, -2.0};
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(example), ": kind 'rrhf' trains on ranked lists or preference pairs"));
    }
    absl::StatusOr<std::vector<EncodedSequence>> encoded = encoder_->EncodeShared(prompt, texts);
    if (!encoded.ok()) return Annotate(encoded.status(), Where(example));
    out.responses = *std::move(encoded);
    return out;
  }

  // The loss of one prompt's candidates; statistics include the best-vs-worst log-prob margin.
  absl::StatusOr<at::Tensor> Loss(const Candidates& candidates, StatSums* stats) {
    std::vector<const EncodedSequence*> seqs;
    for (const EncodedSequence& seq : candidates.responses) {
      seqs.push_back(&seq);
      tokens_seen_ += seq.prompt.size() + seq.response.size();
    }
    ASSIGN_OR_RETURN(SequenceScores s, ScoreResponses(*models_.policy, seqs));
    const at::Tensor rewards = torch::tensor(candidates.rewards, torch::kDouble)
                                   .to(s.token_logps.scalar_type())
                                   .to(s.token_logps.device());
    algorithms::RrhfLoss rrhf =
        algorithms::ComputeRrhfLoss(s.token_logps, s.mask, rewards, options_);
    stats->Add("loss", SumOf(rrhf.loss));
    stats->Add("rank_loss", SumOf(rrhf.rank_loss));
    stats->Add("sft_loss", SumOf(rrhf.sft_loss));
    const int64_t best = rewards.argmax().item<int64_t>();
    const int64_t worst = rewards.argmin().item<int64_t>();
    stats->Add("logp_margin", SumOf(s.sum[best] - s.sum[worst]));
    stats->Add("avg_logp_margin", SumOf(s.sum[best] / s.count[best].clamp_min(1) -
                                        s.sum[worst] / s.count[worst].clamp_min(1)));
    return rrhf.loss;
  }

  algorithms::RrhfOptions options_;
  ObjectiveModels models_;
  const ExampleEncoder* encoder_;
};

}  // namespace

std::unique_ptr<Objective> MakeRrhfObjective(const algorithms::RrhfOptions& options,
                                             ObjectiveModels models,
                                             const ExampleEncoder* encoder) {
  return std::make_unique<RrhfObjective>(options, models, encoder);
}

}  // namespace plumb::train
