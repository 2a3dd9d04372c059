// plumb-train's DPO family, ORPO and SimPO: encodes the batch's preference pairs (ranked lists
// expanded to every ordered pair), scores this rank's pairs under the frozen reference (DPO unless
// reference-free) and runs PairUpdate. The whole batch is encoded on every rank: ORPO's and
// SimPO's NLL normalisers are its tokens.
#include "common/status/status_macros.h"
#include "common/train/objective_factories.h"
#include "common/train/objective_support.h"

namespace plumb::train {
namespace {

class PairObjective : public TrainingObjective {
 public:
  PairObjective(const ObjectiveOptions& options, ObjectiveModels models,
                const ExampleEncoder* encoder)
      : options_(options), models_(models), encoder_(encoder), single_(World::Single()) {}

  absl::Status AccumulateGradients(const StepContext& ctx, StatSums* stats) override {
    std::vector<int64_t> first;
    ASSIGN_OR_RETURN(std::vector<PairItem> pairs,
                     EncodePairItems(*encoder_, *ctx.batch, options_.kind, &first));
    // This rank's pairs: those of its examples [begin, end).
    const int64_t begin = first[ctx.begin], end = first[ctx.end];
    UpdateContext context = ContextOf(ctx, begin, end, models_.cuda);
    RETURN_IF_ERROR(Reference(&pairs, context));
    ASSIGN_OR_RETURN(StatSums out, PairUpdate(*models_.policy, pairs, options_, context));
    stats->Merge(out);
    for (int64_t i = begin; i < end; ++i) {
      tokens_seen_ += TokensOf(pairs[i].prompt, {pairs[i].chosen, pairs[i].rejected});
    }
    return absl::OkStatus();
  }

  absl::Status Evaluate(const std::vector<data::Example>& examples, int64_t batch_size,
                        StatSums* stats) override {
    std::vector<int64_t> first;
    ASSIGN_OR_RETURN(std::vector<PairItem> pairs,
                     EncodePairItems(*encoder_, examples, options_.kind, &first));
    const UpdateContext context = EvalContextOf(single_.get(), pairs.size(), batch_size);
    RETURN_IF_ERROR(Reference(&pairs, context));
    ASSIGN_OR_RETURN(StatSums out, PairUpdate(*models_.policy, pairs, options_, context));
    stats->Merge(out);
    return absl::OkStatus();
  }

 private:
  absl::Status Reference(std::vector<PairItem>* pairs, const UpdateContext& context) {
    if (options_.kind != "dpo" || models_.reference == nullptr) return absl::OkStatus();
    return ScoreReferencePairs(
        *models_.reference, context, models_.cuda,
        [&](int64_t i, TokenRows* rows) {
          rows->Add((*pairs)[i].prompt, (*pairs)[i].chosen);
          rows->Add((*pairs)[i].prompt, (*pairs)[i].rejected);
        },
        [&](int64_t i, double chosen, double rejected) {
          (*pairs)[i].ref_chosen = chosen;
          (*pairs)[i].ref_rejected = rejected;
        });
  }

  ObjectiveOptions options_;
  ObjectiveModels models_;
  const ExampleEncoder* encoder_;
  std::unique_ptr<World> single_;  // evaluation runs on one rank while the others wait
};

}  // namespace

std::unique_ptr<TrainingObjective> MakePairObjective(const ObjectiveOptions& options,
                                                     ObjectiveModels models,
                                                     const ExampleEncoder* encoder) {
  return std::make_unique<PairObjective>(options, models, encoder);
}

}  // namespace plumb::train
