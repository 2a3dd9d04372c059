// Pieces the objectives share: reading the examples each accepts, encoding preference pairs and
// walking a rank's slice in micro-batches. Internal to common/train.
//
// Thread safety: plain functions.
#ifndef PLUMB_COMMON_TRAIN_OBJECTIVE_SUPPORT_H_
#define PLUMB_COMMON_TRAIN_OBJECTIVE_SUPPORT_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/data/example.h"
#include "common/train/example_encoder.h"
#include "common/train/objective.h"

namespace plumb::train {

// "file:line" of an example, for messages.
std::string Where(const data::Example& example);

// The preference pairs of an example (one pair, or every ordered pair of a ranked list);
// INVALID_ARGUMENT naming `kind` for other example types.
absl::StatusOr<std::vector<data::PreferencePair>> PairsOf(const data::Example& example,
                                                          const std::string& kind);

// An encoded preference pair; chosen and rejected share the (same-truncated) prompt.
struct EncodedPair {
  EncodedSequence chosen;
  EncodedSequence rejected;
  double margin = 0.0;  // the Llama 2 margin, 0 when the data has none
};
// Tokens a forward pass reads for pairs [first, last): both sequences, prompt included.
int64_t PairTokens(const std::vector<EncodedPair>& pairs, int64_t first, int64_t last);

absl::StatusOr<EncodedPair> EncodePair(const ExampleEncoder& encoder,
                                       const data::PreferencePair& pair);

// The encoded pairs of examples [begin, end) of `batch`.
absl::StatusOr<std::vector<EncodedPair>> EncodePairs(const ExampleEncoder& encoder,
                                                     const std::vector<data::Example>& batch,
                                                     int64_t begin, int64_t end,
                                                     const std::string& kind);

// Calls fn(first, last) for consecutive ranges of at most `size` items covering [begin, end).
absl::Status ForEachChunk(int64_t begin, int64_t end, int64_t size,
                          const std::function<absl::Status(int64_t, int64_t)>& fn);

// Pointers to chosen (then rejected) sequences of pairs [first, last).
std::vector<const EncodedSequence*> ChosenThenRejected(const std::vector<EncodedPair>& pairs,
                                                       int64_t first, int64_t last);

// Sum of a tensor as double (for statistics).
double SumOf(const at::Tensor& t);

// Adds log-prob statistics of policy chosen/rejected sequence sums and token counts:
// logps/chosen, logps/rejected, logp_margin (summed) and avg_logp_margin (per token).
void AddLogpMarginStats(const at::Tensor& chosen_sum, const at::Tensor& chosen_count,
                        const at::Tensor& rejected_sum, const at::Tensor& rejected_count,
                        StatSums* stats);

// Adds implicit- or explicit-reward statistics of pairs: rewards/chosen, rewards/rejected,
// rewards/margin and rewards/accuracy (the share of pairs whose chosen reward is higher).
void AddRewardStats(const at::Tensor& chosen, const at::Tensor& rejected, StatSums* stats);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_OBJECTIVE_SUPPORT_H_
