// plumb-train's KTO: encodes this rank's unpaired examples and their mismatched pairs (prompt i
// with the completion of example i + 1 of the batch, cyclically, the convention the learner's
// API documents), scores both under the frozen reference and runs KtoUpdate, which sums the
// reference point across ranks.
#include <variant>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/train/objective_factories.h"
#include "common/train/objective_support.h"

namespace plumb::train {
namespace {

class KtoObjective : public TrainingObjective {
 public:
  KtoObjective(const ObjectiveOptions& options, ObjectiveModels models,
               const ExampleEncoder* encoder)
      : options_(options), models_(models), encoder_(encoder), single_(World::Single()) {}

  absl::Status AccumulateGradients(const StepContext& ctx, StatSums* stats) override {
    const UpdateContext context = ContextOf(ctx, ctx.begin, ctx.end, models_.cuda);
    ASSIGN_OR_RETURN(std::vector<UnpairedItem> items, Items(*ctx.batch, context));
    ASSIGN_OR_RETURN(StatSums out, KtoUpdate(*models_.policy, items, options_, context));
    stats->Merge(out);
    for (int64_t i = ctx.begin; i < ctx.end; ++i) {
      tokens_seen_ += TokensOf(items[i].prompt, {items[i].completion});
    }
    return absl::OkStatus();
  }

  absl::Status Evaluate(const std::vector<data::Example>& examples, int64_t batch_size,
                        StatSums* stats) override {
    const UpdateContext context = EvalContextOf(single_.get(), examples.size(), batch_size);
    ASSIGN_OR_RETURN(std::vector<UnpairedItem> items, Items(examples, context));
    ASSIGN_OR_RETURN(StatSums local, KtoUpdate(*models_.policy, items, options_, context));
    stats->Merge(local);
    // The held-out margin between desirable and undesirable completions' log-probs.
    std::map<std::string, double> means = local.Means();
    if (means.count("logps/desirable") && means.count("logps/undesirable")) {
      stats->Add("logp_margin", means["logps/desirable"] - means["logps/undesirable"]);
    }
    return absl::OkStatus();
  }

 private:
  // Items of the whole batch; only those of [context.begin, context.end) are encoded and scored
  // (KtoUpdate reads the others' count only).
  absl::StatusOr<std::vector<UnpairedItem>> Items(const std::vector<data::Example>& batch,
                                                  const UpdateContext& context) const {
    std::vector<const data::UnpairedExample*> all;
    for (const data::Example& example : batch) {
      const auto* u = std::get_if<data::UnpairedExample>(&example.value);
      if (u == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(example), ": kind 'kto' trains on unpaired prompt/completion/label examples"));
      }
      all.push_back(u);
    }
    if (all.size() < 2) {
      return absl::InvalidArgumentError(
          "kto needs at least 2 examples per batch (the KL estimate pairs each prompt with "
          "another example's completion)");
    }
    const int64_t n = static_cast<int64_t>(all.size());
    std::vector<UnpairedItem> items(n);
    for (int64_t i = context.begin; i < context.end; ++i) {
      absl::StatusOr<EncodedSequence> main = encoder_->Encode(all[i]->prompt, all[i]->completion);
      if (!main.ok()) return Annotate(main.status(), Where(batch[i]));
      absl::StatusOr<EncodedSequence> kl =
          encoder_->Encode(all[i]->prompt, all[(i + 1) % n]->completion);
      if (!kl.ok()) return Annotate(kl.status(), Where(batch[i]));
      items[i].prompt = std::move(main->prompt);
      items[i].completion = std::move(main->response);
      items[i].desirable = all[i]->desirable;
      items[i].kl_prompt = std::move(kl->prompt);
      items[i].kl_completion = std::move(kl->response);
    }
    RETURN_IF_ERROR(ScoreReference(&items, context));
    return items;
  }

  // ref_logprob and ref_kl_logprob of items [begin, end) under the frozen reference.
  absl::Status ScoreReference(std::vector<UnpairedItem>* items,
                              const UpdateContext& context) const {
    return ScoreReferencePairs(
        *models_.reference, context, models_.cuda,
        [&](int64_t i, TokenRows* rows) {
          rows->Add((*items)[i].prompt, (*items)[i].completion);
          rows->Add((*items)[i].kl_prompt, (*items)[i].kl_completion);
        },
        [&](int64_t i, double own, double mismatched) {
          (*items)[i].ref_logprob = own;
          (*items)[i].ref_kl_logprob = mismatched;
        });
  }

  ObjectiveOptions options_;
  ObjectiveModels models_;
  const ExampleEncoder* encoder_;
  std::unique_ptr<World> single_;  // evaluation runs on one rank while the others wait
};

}  // namespace

std::unique_ptr<TrainingObjective> MakeKtoObjective(const ObjectiveOptions& options,
                                                    ObjectiveModels models,
                                                    const ExampleEncoder* encoder) {
  return std::make_unique<KtoObjective>(options, models, encoder);
}

}  // namespace plumb::train
