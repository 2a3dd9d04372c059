// KTO on unpaired desirable/undesirable examples. The KL reference point z0 is estimated, without
// gradient, from mismatched pairs (prompt i with the completion of example i - 1 of the global
// batch, as TRL builds its KL dataset), summed across ranks before the loss, so every rank uses
// the same z0 a single process would.
#include <torch/torch.h>

#include <variant>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/train/objective_factories.h"
#include "common/train/objective_support.h"
#include "common/train/sequence_scoring.h"

namespace plumb::train {
namespace {

class KtoObjective : public Objective {
 public:
  KtoObjective(const algorithms::KtoOptions& options, ObjectiveModels models,
               const ExampleEncoder* encoder)
      : options_(options), models_(models), encoder_(encoder) {}

  absl::Status AccumulateGradients(const StepContext& ctx, StatSums* stats) override {
    const std::vector<data::Example>& batch = *ctx.batch;
    ASSIGN_OR_RETURN(std::vector<const data::UnpairedExample*> all, Unpaired(batch));
    ASSIGN_OR_RETURN(at::Tensor kl,
                     EstimateKl(all, ctx.begin, ctx.end, ctx.micro_batch_size, ctx.world));
    const double global = static_cast<double>(batch.size());
    return ForEachChunk(ctx.begin, ctx.end, ctx.micro_batch_size, [&](int64_t a, int64_t b) {
      AutocastScope autocast(ctx.bf16_autocast, models_.cuda);
      ASSIGN_OR_RETURN(algorithms::KtoLoss kto, Loss(all, a, b, kl, stats));
      (kto.losses.sum() / global).backward();
      return absl::OkStatus();
    });
  }

  absl::Status Evaluate(const std::vector<data::Example>& examples, int64_t batch_size,
                        StatSums* stats) override {
    ASSIGN_OR_RETURN(std::vector<const data::UnpairedExample*> all, Unpaired(examples));
    torch::NoGradGuard no_grad;
    ASSIGN_OR_RETURN(at::Tensor kl, EstimateKl(all, 0, all.size(), batch_size, nullptr));
    StatSums local;
    RETURN_IF_ERROR(ForEachChunk(0, all.size(), batch_size, [&](int64_t a, int64_t b) {
      return Loss(all, a, b, kl, &local).status();
    }));
    // The held-out margin between desirable and undesirable completions' log-probs.
    std::map<std::string, double> means = local.Means();
    for (const auto& [name, value] : local.values()) stats->Add(name, value.first, value.second);
    if (means.count("logps/desirable") && means.count("logps/undesirable")) {
      stats->Add("logp_margin", means["logps/desirable"] - means["logps/undesirable"]);
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<std::vector<const data::UnpairedExample*>> Unpaired(
      const std::vector<data::Example>& batch) const {
    std::vector<const data::UnpairedExample*> out;
    for (const data::Example& example : batch) {
      const auto* u = std::get_if<data::UnpairedExample>(&example.value);
      if (u == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(example), ": kind 'kto' trains on unpaired prompt/completion/label examples"));
      }
      out.push_back(u);
    }
    if (out.size() < 2) {
      return absl::InvalidArgumentError(
          "kto needs at least 2 examples per batch (the KL estimate pairs each prompt with "
          "another example's completion)");
    }
    return out;
  }

  // Summed log-probs of the examples' completions under `model` for [a, b); `shifted` pairs
  // prompt i with completion i - 1 (cyclically).
  absl::StatusOr<SequenceScores> Score(model::TransformerImpl& model,
                                       const std::vector<const data::UnpairedExample*>& all,
                                       int64_t a, int64_t b, bool shifted,
                                       std::vector<EncodedSequence>* storage) {
    storage->clear();
    const int64_t n = static_cast<int64_t>(all.size());
    for (int64_t i = a; i < b; ++i) {
      const data::UnpairedExample* completion = shifted ? all[(i + n - 1) % n] : all[i];
      ASSIGN_OR_RETURN(EncodedSequence encoded,
                       encoder_->Encode(all[i]->prompt, completion->completion));
      storage->push_back(std::move(encoded));
    }
    std::vector<const EncodedSequence*> seqs;
    for (const EncodedSequence& seq : *storage) seqs.push_back(&seq);
    return ScoreResponses(model, seqs);
  }

  absl::StatusOr<at::Tensor> EstimateKl(const std::vector<const data::UnpairedExample*>& all,
                                        int64_t begin, int64_t end, int64_t micro, World* world) {
    torch::NoGradGuard no_grad;
    double sum = 0, nonzero = 0;
    std::vector<EncodedSequence> storage;
    RETURN_IF_ERROR(ForEachChunk(begin, end, micro, [&](int64_t a, int64_t b) {
      ASSIGN_OR_RETURN(SequenceScores policy, Score(*models_.policy, all, a, b, true, &storage));
      ASSIGN_OR_RETURN(SequenceScores ref, Score(*models_.reference, all, a, b, true, &storage));
      const at::Tensor diff = (policy.sum - ref.sum).to(torch::kDouble);
      sum += diff.sum().item<double>();
      nonzero += (diff != 0).sum().item<double>();
      return absl::OkStatus();
    }));
    if (world != nullptr) {
      ASSIGN_OR_RETURN(std::vector<double> summed, world->AllReduceSum({sum, nonzero}));
      sum = summed[0];
      nonzero = summed[1];
    }
    const double rows = options_.kl_average == "nonzero_rows" ? std::max(1.0, nonzero)
                                                              : static_cast<double>(all.size());
    return torch::tensor(std::max(0.0, sum / rows), torch::kFloat);
  }

  absl::StatusOr<algorithms::KtoLoss> Loss(const std::vector<const data::UnpairedExample*>& all,
                                           int64_t a, int64_t b, const at::Tensor& kl,
                                           StatSums* stats) {
    std::vector<EncodedSequence> storage;
    ASSIGN_OR_RETURN(SequenceScores policy, Score(*models_.policy, all, a, b, false, &storage));
    at::Tensor ref_sum;
    {
      torch::NoGradGuard no_grad;
      ASSIGN_OR_RETURN(SequenceScores ref, Score(*models_.reference, all, a, b, false, &storage));
      ref_sum = ref.sum;
    }
    std::vector<uint8_t> labels;
    for (int64_t i = a; i < b; ++i) labels.push_back(all[i]->desirable ? 1 : 0);
    const at::Tensor label_tensor = torch::tensor(labels, torch::kBool).to(policy.sum.device());
    for (const EncodedSequence& seq : storage)
      tokens_seen_ += seq.prompt.size() + seq.response.size();
    algorithms::KtoLoss kto = algorithms::ComputeKtoLoss(policy.sum, ref_sum, label_tensor,
                                                         kl.to(policy.sum.device()), options_);
    const double n = static_cast<double>(b - a);
    stats->Add("loss", SumOf(kto.losses), n);
    stats->Add("kl", kl.item<double>() * n, n);
    stats->Add("rewards/chosen", SumOf(kto.chosen_rewards), kto.chosen_rewards.size(0));
    stats->Add("rewards/rejected", SumOf(kto.rejected_rewards), kto.rejected_rewards.size(0));
    const at::Tensor logps = policy.sum.detach();
    stats->Add("logps/desirable", SumOf(logps.index({label_tensor})), SumOf(label_tensor));
    stats->Add("logps/undesirable", SumOf(logps.index({~label_tensor})),
               SumOf((~label_tensor).to(torch::kDouble)));
    return kto;
  }

  algorithms::KtoOptions options_;
  ObjectiveModels models_;
  const ExampleEncoder* encoder_;
};

}  // namespace

std::unique_ptr<Objective> MakeKtoObjective(const algorithms::KtoOptions& options,
                                            ObjectiveModels models, const ExampleEncoder* encoder) {
  return std::make_unique<KtoObjective>(options, models, encoder);
}

}  // namespace plumb::train
