// plumb-train's SFT: encodes (prompt, response) examples, or the chosen side of preference pairs,
// and runs SftUpdate. The whole batch is encoded on every rank: the normaliser is its response
// tokens.
#include <variant>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/train/objective_factories.h"
#include "common/train/objective_support.h"

namespace plumb::train {
namespace {

class SftObjective : public TrainingObjective {
 public:
  SftObjective(const SftOptions& options, ObjectiveModels models, const ExampleEncoder* encoder)
      : options_(options), models_(models), encoder_(encoder), single_(World::Single()) {
    options_.pack_length = encoder_->options().max_length;
    options_.pad_token_id = encoder_->tokenizer().pad_id().value_or(0);
  }

  absl::Status AccumulateGradients(const StepContext& ctx, StatSums* stats) override {
    ASSIGN_OR_RETURN(std::vector<SftItem> items, Encode(*ctx.batch));
    ASSIGN_OR_RETURN(StatSums out, SftUpdate(*models_.policy, items, options_,
                                             ContextOf(ctx, ctx.begin, ctx.end, models_.cuda)));
    stats->Merge(out);
    for (int64_t i = ctx.begin; i < ctx.end; ++i) {
      tokens_seen_ += TokensOf(items[i].prompt, {items[i].response});
    }
    return absl::OkStatus();
  }

  absl::Status Evaluate(const std::vector<data::Example>& examples, int64_t batch_size,
                        StatSums* stats) override {
    ASSIGN_OR_RETURN(std::vector<SftItem> items, Encode(examples));
    ASSIGN_OR_RETURN(StatSums out,
                     SftUpdate(*models_.policy, items, options_,
                               EvalContextOf(single_.get(), items.size(), batch_size)));
    stats->Merge(out);
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<std::vector<SftItem>> Encode(const std::vector<data::Example>& batch) const {
    std::vector<SftItem> out;
    for (const data::Example& example : batch) {
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
      out.push_back({std::move(encoded->prompt), std::move(encoded->response), 1.0});
    }
    return out;
  }

  SftOptions options_;
  ObjectiveModels models_;
  const ExampleEncoder* encoder_;
  std::unique_ptr<World> single_;  // evaluation runs on one rank while the others wait
};

}  // namespace

std::unique_ptr<TrainingObjective> MakeSftObjective(const SftOptions& options,
                                                    ObjectiveModels models,
                                                    const ExampleEncoder* encoder) {
  return std::make_unique<SftObjective>(options, models, encoder);
}

}  // namespace plumb::train
