// plumb-train's RRHF and reward model: encode ranked lists (rank 1 = best) or preference pairs (a
// list of two, with its margin) into ranked groups and run RrhfUpdate or RewardModelUpdate.
#include "common/status/status_macros.h"
#include "common/train/objective_factories.h"
#include "common/train/objective_support.h"

namespace plumb::train {
namespace {

// Ranked items of `batch`: those of [begin, end) encoded, the others with their ranks only (the
// reward model's normaliser counts every group's comparisons).
absl::StatusOr<std::vector<RankedItem>> EncodeRanked(const ExampleEncoder& encoder,
                                                     const std::vector<data::Example>& batch,
                                                     int64_t begin, int64_t end,
                                                     const std::string& kind) {
  std::vector<RankedItem> items(batch.size());
  for (int64_t i = 0; i < static_cast<int64_t>(batch.size()); ++i) {
    ASSIGN_OR_RETURN(items[i], EncodeRankedItem(encoder, batch[i], kind, i >= begin && i < end));
  }
  return items;
}

// RRHF and the reward model: ranked groups through `update`.
template <typename Options, typename Update>
class RankedObjective : public TrainingObjective {
 public:
  RankedObjective(std::string kind, const Options& options, ObjectiveModels models,
                  const ExampleEncoder* encoder, Update update)
      : kind_(std::move(kind)),
        options_(options),
        models_(models),
        encoder_(encoder),
        update_(update),
        single_(World::Single()) {}

  absl::Status AccumulateGradients(const StepContext& ctx, StatSums* stats) override {
    ASSIGN_OR_RETURN(std::vector<RankedItem> items,
                     EncodeRanked(*encoder_, *ctx.batch, ctx.begin, ctx.end, kind_));
    ASSIGN_OR_RETURN(StatSums out, update_(*models_.policy, items, options_,
                                           ContextOf(ctx, ctx.begin, ctx.end, models_.cuda)));
    stats->Merge(out);
    for (int64_t i = ctx.begin; i < ctx.end; ++i) {
      tokens_seen_ += TokensOf(items[i].prompt, items[i].responses);
    }
    return absl::OkStatus();
  }

  absl::Status Evaluate(const std::vector<data::Example>& examples, int64_t batch_size,
                        StatSums* stats) override {
    ASSIGN_OR_RETURN(std::vector<RankedItem> items,
                     EncodeRanked(*encoder_, examples, 0, examples.size(), kind_));
    ASSIGN_OR_RETURN(StatSums out, update_(*models_.policy, items, options_,
                                           EvalContextOf(single_.get(), items.size(), batch_size)));
    stats->Merge(out);
    return absl::OkStatus();
  }

 private:
  std::string kind_;
  Options options_;
  ObjectiveModels models_;
  const ExampleEncoder* encoder_;
  Update update_;
  std::unique_ptr<World> single_;  // evaluation runs on one rank while the others wait
};

template <typename Options, typename Update>
std::unique_ptr<TrainingObjective> MakeRanked(std::string kind, const Options& options,
                                              ObjectiveModels models, const ExampleEncoder* encoder,
                                              Update update) {
  return std::make_unique<RankedObjective<Options, Update>>(std::move(kind), options, models,
                                                            encoder, update);
}

}  // namespace

std::unique_ptr<TrainingObjective> MakeRrhfObjective(const ObjectiveOptions& options,
                                                     ObjectiveModels models,
                                                     const ExampleEncoder* encoder) {
  return MakeRanked("rrhf", options, models, encoder, &RrhfUpdate);
}

std::unique_ptr<TrainingObjective> MakeRewardModelObjective(
    const RewardModelObjectiveOptions& options, ObjectiveModels models,
    const ExampleEncoder* encoder) {
  return MakeRanked("reward_model", options, models, encoder, &RewardModelUpdate);
}

}  // namespace plumb::train
