#include "common/train/objective_support.h"

#include <torch/torch.h>

#include <algorithm>
#include <variant>

#include "absl/strings/str_cat.h"
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

int64_t PairTokens(const std::vector<EncodedPair>& pairs, int64_t first, int64_t last) {
  int64_t tokens = 0;
  for (int64_t i = first; i < last; ++i) {
    tokens +=
        static_cast<int64_t>(pairs[i].chosen.prompt.size() + pairs[i].chosen.response.size() +
                             pairs[i].rejected.prompt.size() + pairs[i].rejected.response.size());
  }
  return tokens;
}

absl::StatusOr<EncodedPair> EncodePair(const ExampleEncoder& encoder,
                                       const data::PreferencePair& pair) {
  ASSIGN_OR_RETURN(std::vector<EncodedSequence> both,
                   encoder.EncodeShared(pair.prompt, {pair.chosen, pair.rejected}));
  EncodedPair out;
  out.chosen = std::move(both[0]);
  out.rejected = std::move(both[1]);
  out.margin = pair.margin.value_or(0.0);
  return out;
}

absl::StatusOr<std::vector<EncodedPair>> EncodePairs(const ExampleEncoder& encoder,
                                                     const std::vector<data::Example>& batch,
                                                     int64_t begin, int64_t end,
                                                     const std::string& kind) {
  std::vector<EncodedPair> out;
  for (int64_t i = begin; i < end; ++i) {
    ASSIGN_OR_RETURN(std::vector<data::PreferencePair> pairs, PairsOf(batch[i], kind));
    for (const data::PreferencePair& pair : pairs) {
      absl::StatusOr<EncodedPair> encoded = EncodePair(encoder, pair);
      if (!encoded.ok()) return Annotate(encoded.status(), Where(batch[i]));
      out.push_back(*std::move(encoded));
    }
  }
  return out;
}

absl::Status ForEachChunk(int64_t begin, int64_t end, int64_t size,
                          const std::function<absl::Status(int64_t, int64_t)>& fn) {
  const int64_t step = std::max<int64_t>(1, size);
  for (int64_t first = begin; first < end; first += step) {
    RETURN_IF_ERROR(fn(first, std::min(end, first + step)));
  }
  return absl::OkStatus();
}

std::vector<const EncodedSequence*> ChosenThenRejected(const std::vector<EncodedPair>& pairs,
                                                       int64_t first, int64_t last) {
  std::vector<const EncodedSequence*> out;
  for (int64_t i = first; i < last; ++i) out.push_back(&pairs[i].chosen);
  for (int64_t i = first; i < last; ++i) out.push_back(&pairs[i].rejected);
  return out;
}

double SumOf(const at::Tensor& t) { return t.detach().to(torch::kDouble).sum().item<double>(); }

void AddLogpMarginStats(const at::Tensor& chosen_sum, const at::Tensor& chosen_count,
                        const at::Tensor& rejected_sum, const at::Tensor& rejected_count,
                        StatSums* stats) {
  const double n = static_cast<double>(chosen_sum.size(0));
  stats->Add("logps/chosen", SumOf(chosen_sum), n);
  stats->Add("logps/rejected", SumOf(rejected_sum), n);
  stats->Add("logp_margin", SumOf(chosen_sum - rejected_sum), n);
  const at::Tensor avg =
      chosen_sum / chosen_count.clamp_min(1) - rejected_sum / rejected_count.clamp_min(1);
  stats->Add("avg_logp_margin", SumOf(avg), n);
}

void AddRewardStats(const at::Tensor& chosen, const at::Tensor& rejected, StatSums* stats) {
  const double n = static_cast<double>(chosen.size(0));
  stats->Add("rewards/chosen", SumOf(chosen), n);
  stats->Add("rewards/rejected", SumOf(rejected), n);
  stats->Add("rewards/margin", SumOf(chosen - rejected), n);
  stats->Add("rewards/accuracy", SumOf((chosen > rejected).to(torch::kDouble)), n);
}

}  // namespace plumb::train
