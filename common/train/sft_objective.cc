// Supervised fine-tuning: token-mean cross-entropy of response tokens (prompt and padding masked),
// normalised by the response tokens of the whole global batch. With packing, the examples of a
// micro-batch share rows of max_length tokens, each in its own attention segment.
#include <torch/torch.h>

#include <variant>

#include "absl/strings/str_cat.h"
#include "common/algorithms/sft_loss.h"
#include "common/status/status_macros.h"
#include "common/train/objective_factories.h"
#include "common/train/objective_support.h"
#include "common/train/sequence_scoring.h"

namespace plumb::train {
namespace {

class SftObjective : public Objective {
 public:
  SftObjective(const SftOptions& options, ObjectiveModels models, const ExampleEncoder* encoder)
      : options_(options), models_(models), encoder_(encoder) {}

  absl::Status AccumulateGradients(const StepContext& ctx, StatSums* stats) override {
    ASSIGN_OR_RETURN(std::vector<EncodedSequence> all, Encode(*ctx.batch, 0, ctx.batch->size()));
    double global_tokens = 0;
    for (const EncodedSequence& seq : all) global_tokens += seq.response.size();
    if (global_tokens == 0) return absl::InvalidArgumentError("a batch with no response tokens");
    return ForEachChunk(ctx.begin, ctx.end, ctx.micro_batch_size, [&](int64_t a, int64_t b) {
      std::vector<const EncodedSequence*> micro;
      for (int64_t i = a; i < b; ++i) micro.push_back(&all[i]);
      AutocastScope autocast(ctx.bf16_autocast, models_.cuda);
      ASSIGN_OR_RETURN(ResponseNll nll, Nll(micro));
      (nll.sum / global_tokens).backward();
      stats->Add("loss", SumOf(nll.sum), nll.tokens);
      for (const EncodedSequence* seq : micro)
        tokens_seen_ += seq->prompt.size() + seq->response.size();
      return absl::OkStatus();
    });
  }

  absl::Status Evaluate(const std::vector<data::Example>& examples, int64_t batch_size,
                        StatSums* stats) override {
    ASSIGN_OR_RETURN(std::vector<EncodedSequence> all, Encode(examples, 0, examples.size()));
    torch::NoGradGuard no_grad;
    return ForEachChunk(0, all.size(), batch_size, [&](int64_t a, int64_t b) {
      std::vector<const EncodedSequence*> micro;
      for (int64_t i = a; i < b; ++i) micro.push_back(&all[i]);
      ASSIGN_OR_RETURN(ResponseNll nll, Nll(micro));
      stats->Add("loss", SumOf(nll.sum), nll.tokens);
      return absl::OkStatus();
    });
  }

 private:
  struct ResponseNll {
    at::Tensor sum;  // summed negative log-likelihood of the response tokens
    double tokens = 0;
  };

  absl::StatusOr<ResponseNll> Nll(const std::vector<const EncodedSequence*>& micro) {
    if (!options_.packing) {
      ASSIGN_OR_RETURN(SequenceScores scores, ScoreResponses(*models_.policy, micro));
      return ResponseNll{-scores.sum.sum(), SumOf(scores.count)};
    }
    std::vector<algorithms::SftExample> examples;
    for (const EncodedSequence* seq : micro) examples.push_back({seq->prompt, seq->response});
    algorithms::PackOptions pack;
    pack.max_length = encoder_->options().max_length;
    pack.pad_token_id = encoder_->tokenizer().pad_id().value_or(0);
    ASSIGN_OR_RETURN(algorithms::PackedBatch rows, algorithms::PackSequences(examples, pack));
    ASSIGN_OR_RETURN(at::Tensor logps,
                     ScorePackedTokens(*models_.policy, rows.input_ids, rows.position_ids,
                                       rows.segment_ids, rows.loss_mask));
    return ResponseNll{-logps.sum(), static_cast<double>(logps.numel())};
  }

  absl::StatusOr<std::vector<EncodedSequence>> Encode(const std::vector<data::Example>& batch,
                                                      size_t begin, size_t end) const {
    std::vector<EncodedSequence> out;
    for (size_t i = begin; i < end; ++i) {
      const data::Example& example = batch[i];
      absl::StatusOr<EncodedSequence> encoded = absl::InvalidArgumentError("");
      if (const auto* sft = std::get_if<data::SftExample>(&example.value)) {
        encoded = encoder_->Encode(sft->prompt, sft->response);
      } else if (const auto* pair = std::get_if<data::PreferencePair>(&example.value)) {
        encoded = encoder_->Encode(pair->prompt, pair->chosen);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(example),
            ": kind 'sft' trains on prompt/response examples (or the chosen side of pairs)"));
      }
      if (!encoded.ok()) return Annotate(encoded.status(), Where(example));
      out.push_back(*std::move(encoded));
    }
    return out;
  }

  SftOptions options_;
  ObjectiveModels models_;
  const ExampleEncoder* encoder_;
};

}  // namespace

std::unique_ptr<Objective> MakeSftObjective(const SftOptions& options, ObjectiveModels models,
                                            const ExampleEncoder* encoder) {
  return std::make_unique<SftObjective>(options, models, encoder);
}

}  // namespace plumb::train
