// SftUpdate: token-mean cross-entropy of response tokens (prompt and padding masked), each
// example's tokens weighted by its weight, normalised by the weighted response tokens of the
// whole batch. With packing, the examples of a micro-batch share rows of pack_length tokens, each
// in its own attention segment (the same loss, less padding).
#include <torch/torch.h>

#include "common/algorithms/sft_loss.h"
#include "common/model/mixed_precision.h"
#include "common/status/status_macros.h"
#include "common/train/offline_updates.h"
#include "common/train/sequence_scoring.h"
#include "common/train/update_support.h"

namespace plumb::train {
namespace {

struct WeightedNll {
  at::Tensor sum;  // sum of weight x token NLL
  double weighted_tokens = 0;
  double tokens = 0;
};

absl::StatusOr<WeightedNll> Nll(model::TransformerImpl& policy, const std::vector<SftItem>& batch,
                                int64_t a, int64_t b, const SftOptions& options) {
  if (!options.packing) {
    TokenRows rows;
    std::vector<double> weights;
    for (int64_t i = a; i < b; ++i) {
      rows.Add(batch[i].prompt, batch[i].response);
      weights.push_back(batch[i].weight);
    }
    ASSIGN_OR_RETURN(SequenceScores scores, ScoreRows(policy, rows));
    const at::Tensor w = FloatTensor(weights, scores.sum.device());
    return WeightedNll{-(scores.sum * w).sum(), SumOf(scores.count * w), SumOf(scores.count)};
  }
  std::vector<algorithms::SftExample> examples;
  for (int64_t i = a; i < b; ++i) examples.push_back({batch[i].prompt, batch[i].response});
  algorithms::PackOptions pack;
  pack.max_length = options.pack_length;
  pack.pad_token_id = options.pad_token_id;
  ASSIGN_OR_RETURN(algorithms::PackedBatch rows, algorithms::PackSequences(examples, pack));
  ASSIGN_OR_RETURN(at::Tensor logps, ScorePackedTokens(policy, rows.input_ids, rows.position_ids,
                                                       rows.segment_ids, rows.loss_mask));
  const double tokens = static_cast<double>(logps.numel());
  return WeightedNll{-logps.sum(), tokens, tokens};
}

}  // namespace

absl::StatusOr<StatSums> SftUpdate(model::TransformerImpl& policy,
                                   const std::vector<SftItem>& batch, const SftOptions& options,
                                   const UpdateContext& context) {
  double weighted_tokens = 0;
  for (const SftItem& item : batch) {
    if (options.packing && item.weight != 1.0) {
      return absl::InvalidArgumentError("SFT packing needs every example's weight to be 1");
    }
    weighted_tokens += item.weight * static_cast<double>(item.response.size());
  }
  if (!(weighted_tokens > 0)) {
    return absl::InvalidArgumentError("an SFT batch with no (weighted) response tokens");
  }
  at::AutoGradMode grad_mode(context.train && at::GradMode::is_enabled());
  StatSums stats({"loss", "tokens", "sequences"});
  RETURN_IF_ERROR(ForEachMicroBatch(context, [&](int64_t a, int64_t b) -> absl::Status {
    WeightedNll nll;
    {
      model::Bf16AutocastScope autocast(context.bf16_autocast, context.cuda);
      ASSIGN_OR_RETURN(nll, Nll(policy, batch, a, b, options));
    }
    Backpropagate(context, nll.sum / weighted_tokens);
    stats.Add("loss", SumOf(nll.sum), nll.weighted_tokens);
    stats.AddCounter("tokens", nll.tokens);
    stats.AddCounter("sequences", static_cast<double>(b - a));
    return absl::OkStatus();
  }));
  return stats;
}

}  // namespace plumb::train
