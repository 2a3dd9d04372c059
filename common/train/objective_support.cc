#include "common/train/objective_support.h"

#include <torch/torch.h>

#include <algorithm>
#include <variant>

#include "absl/strings/str_cat.h"
#include "common/model/mixed_precision.h"
#include "common/status/status_macros.h"

namespace plumb::train {

std::string Where(const data::Example& example) {
  if (example.source.file.empty()) return "an example";
  return absl::StrCat(example.source.file, ":", example.source.line);
}

absl::StatusOr<std::vector<data::PreferencePair>> PairsOf(const data::Example& example,
                                                          const std::string& kind) {
  if (const auto* pair = std::get_if<data::PreferencePair>(&example.value)) {
    return std::vector<data::PreferencePair>{*pair};
  }
  if (const auto* list = std::get_if<data::RankedList>(&example.value)) {
    return data::ExpandRankedToPairs(*list);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      Where(example), ": kind '", kind,
      "' trains on preference pairs or ranked lists; this data format gives other examples"));
}

absl::StatusOr<std::vector<PairItem>> EncodePairItems(const ExampleEncoder& encoder,
                                                      const std::vector<data::Example>& batch,
                                                      const std::string& kind,
                                                      std::vector<int64_t>* first) {
  std::vector<PairItem> out;
  first->clear();
  for (const data::Example& example : batch) {
    first->push_back(static_cast<int64_t>(out.size()));
    ASSIGN_OR_RETURN(std::vector<data::PreferencePair> pairs, PairsOf(example, kind));
    for (const data::PreferencePair& pair : pairs) {
      absl::StatusOr<std::vector<EncodedSequence>> both =
          encoder.EncodeShared(pair.prompt, {pair.chosen, pair.rejected});
      if (!both.ok()) return Annotate(both.status(), Where(example));
      PairItem item;
      item.prompt = std::move((*both)[0].prompt);
      item.chosen = std::move((*both)[0].response);
      item.rejected = std::move((*both)[1].response);
      out.push_back(std::move(item));
    }
  }
  first->push_back(static_cast<int64_t>(out.size()));
  return out;
}

absl::StatusOr<RankedItem> EncodeRankedItem(const ExampleEncoder& encoder,
                                            const data::Example& example, const std::string& kind,
                                            bool encode) {
  std::string prompt;
  std::vector<absl::string_view> texts;
  RankedItem out;
  if (const auto* list = std::get_if<data::RankedList>(&example.value)) {
    prompt = list->prompt;
    for (const std::string& response : list->responses) texts.push_back(response);
    out.ranks = list->ranks;
  } else if (const auto* pair = std::get_if<data::PreferencePair>(&example.value)) {
    prompt = pair->prompt;
    texts = {pair->chosen, pair->rejected};
    out.ranks = {0, 1};
    out.margin = pair->margin;
    out.probability = pair->preference_probability;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(Where(example), ": kind '", kind,
                                                   "' trains on ranked lists or preference pairs"));
  }
  if (!encode) return out;
  absl::StatusOr<std::vector<EncodedSequence>> encoded = encoder.EncodeShared(prompt, texts);
  if (!encoded.ok()) return Annotate(encoded.status(), Where(example));
  out.prompt = (*encoded)[0].prompt;
  for (EncodedSequence& seq : *encoded) out.responses.push_back(std::move(seq.response));
  return out;
}

int64_t TokensOf(const std::vector<int64_t>& prompt,
                 const std::vector<std::vector<int64_t>>& responses) {
  int64_t tokens = 0;
  for (const std::vector<int64_t>& response : responses) {
    tokens += static_cast<int64_t>(prompt.size() + response.size());
  }
  return tokens;
}

UpdateContext ContextOf(const StepContext& step, int64_t begin, int64_t end, bool cuda) {
  UpdateContext context;
  context.world = step.world;
  context.begin = begin;
  context.end = end;
  context.micro_batch_size = std::max<int64_t>(1, step.micro_batch_size);
  context.bf16_autocast = step.bf16_autocast;
  context.cuda = cuda;
  return context;
}

UpdateContext EvalContextOf(World* single, int64_t items, int64_t batch_size) {
  UpdateContext context;
  context.world = single;
  context.begin = 0;
  context.end = items;
  context.micro_batch_size = std::max<int64_t>(1, batch_size);
  context.train = false;
  return context;
}

absl::Status ScoreReferencePairs(model::TransformerImpl& reference, const UpdateContext& context,
                                 bool cuda,
                                 const std::function<void(int64_t, TokenRows*)>& add_rows,
                                 const std::function<void(int64_t, double, double)>& store) {
  torch::NoGradGuard no_grad;
  UpdateContext passes;
  passes.begin = context.begin;
  passes.end = context.end;
  passes.micro_batch_size = context.micro_batch_size;
  return ForEachMicroBatch(passes, [&](int64_t a, int64_t b) -> absl::Status {
    TokenRows pass;  // items a..b, two rows each
    for (int64_t i = a; i < b; ++i) add_rows(i, &pass);
    model::Bf16AutocastScope scope(context.bf16_autocast, cuda);
    ASSIGN_OR_RETURN(SequenceScores scores, ScoreRows(reference, pass));
    const at::Tensor sums = scores.sum.to(torch::kCPU).to(torch::kDouble).contiguous();
    const double* sum = sums.data_ptr<double>();
    for (int64_t i = a; i < b; ++i) store(i, sum[2 * (i - a)], sum[2 * (i - a) + 1]);
    return absl::OkStatus();
  });
}

}  // namespace plumb::train
