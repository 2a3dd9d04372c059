// What plumb-train's objectives share on their side of the training updates (offline_updates.h):
// reading the examples each kind accepts, encoding them into token items, scoring the frozen
// reference model, and the update context of a step. Internal to common/train.
//
// Thread safety: plain functions.
#ifndef PLUMB_COMMON_TRAIN_OBJECTIVE_SUPPORT_H_
#define PLUMB_COMMON_TRAIN_OBJECTIVE_SUPPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/data/example.h"
#include "common/model/transformer.h"
#include "common/train/example_encoder.h"
#include "common/train/objective.h"
#include "common/train/offline_updates.h"
#include "common/train/sequence_scoring.h"

namespace plumb::train {

// "file:line" of an example, for messages.
std::string Where(const data::Example& example);

// The preference pairs of an example (one pair, or every ordered pair of a ranked list);
// INVALID_ARGUMENT naming `kind` for other example types.
absl::StatusOr<std::vector<data::PreferencePair>> PairsOf(const data::Example& example,
                                                          const std::string& kind);

// The pair items of every example of `batch` (chosen and rejected share the same-truncated
// prompt); (*first)[i] is the index of example i's first pair, (*first)[batch.size()] the count.
absl::StatusOr<std::vector<PairItem>> EncodePairItems(const ExampleEncoder& encoder,
                                                      const std::vector<data::Example>& batch,
                                                      const std::string& kind,
                                                      std::vector<int64_t>* first);

// The ranked item of a ranked list (ranks as the data gives them, 1 = best) or of a preference
// pair (ranks {0, 1} with its margin and preference probability); INVALID_ARGUMENT naming `kind`
// otherwise. Without `encode`, the ranks, margin and probability only.
absl::StatusOr<RankedItem> EncodeRankedItem(const ExampleEncoder& encoder,
                                            const data::Example& example, const std::string& kind,
                                            bool encode = true);

// Prompt + response tokens of sequences, for throughput reports.
int64_t TokensOf(const std::vector<int64_t>& prompt,
                 const std::vector<std::vector<int64_t>>& responses);

// The update context of one step: this rank's items [begin, end) with the step's micro-batch
// size and precision.
UpdateContext ContextOf(const StepContext& step, int64_t begin, int64_t end, bool cuda);
// The context of a held-out evaluation: every item on a process of its own, no gradients.
UpdateContext EvalContextOf(World* single, int64_t items, int64_t batch_size);

// The reference values of DPO and KTO: two sequences per item of [context.begin, context.end)
// (DPO's chosen and rejected, KTO's completion and its mismatched KL completion), their summed
// response log-probs under the frozen `reference`, without gradients, in passes of
// context.micro_batch_size items. `add_rows(i, rows)` adds item i's two rows to `rows`;
// `store(i, first, second)` receives their sums.
absl::Status ScoreReferencePairs(model::TransformerImpl& reference, const UpdateContext& context,
                                 bool cuda,
                                 const std::function<void(int64_t, TokenRows*)>& add_rows,
                                 const std::function<void(int64_t, double, double)>& store);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_OBJECTIVE_SUPPORT_H_
