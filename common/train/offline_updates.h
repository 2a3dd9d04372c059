// The offline training updates on already-tokenized batches: SFT, the pairwise objectives (DPO
// family with the RPO term, ORPO, SimPO with the CPO NLL term), KTO, RRHF and the reward model
// (pairs with Llama 2 margins, or ranked groups). Each forwards the policy over this rank's items
// in micro-batches, divides the loss by the normaliser of the WHOLE batch (pairs, examples,
// groups, comparisons or tokens), back-propagates, and returns this rank's statistics. The one
// implementation behind plumb-train (objectives.h encodes text and scores its reference model)
// and the learner service (its Train batches, with the caller's reference log-probs).
//
// Data parallelism: every rank passes the same whole batch and its own range of items; summing
// the ranks' gradients gives exactly the gradient one process computes on the batch. Statistics
// are this rank's sums: reduce them (StatSums::AllReduce) before reading means. Every update
// declares all its names up front, so a rank without items joins the reduction.
//
// Input contract: callers validate their inputs (non-empty prompts and responses within the
// model's vocabulary and context, finite reference values); LibTorch errors propagate as
// c10::Error to the caller's boundary.
//
// Thread safety: call on the thread that owns the policy.
#ifndef PLUMB_COMMON_TRAIN_OFFLINE_UPDATES_H_
#define PLUMB_COMMON_TRAIN_OFFLINE_UPDATES_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/transformer.h"
#include "common/train/distributed.h"
#include "common/train/objective_options.h"
#include "common/train/stat_sums.h"

namespace plumb::train {

// A (prompt, response) to imitate; the loss counts weight x each response token.
struct SftItem {
  std::vector<int64_t> prompt, response;
  double weight = 1.0;
};

struct PairItem {
  std::vector<int64_t> prompt, chosen, rejected;
  // Summed reference log-probs of the responses (DPO family); unset = 0 (reference-free).
  std::optional<double> ref_chosen, ref_rejected;
};

struct UnpairedItem {
  std::vector<int64_t> prompt, completion;
  bool desirable = true;
  double ref_logprob = 0;  // summed reference log-prob of the completion
  // The mismatched pair of KTO's reference point (this prompt with the next item's completion,
  // as the caller fitted it) and its summed reference log-prob; needed when the reference point
  // is estimated.
  std::vector<int64_t> kl_prompt, kl_completion;
  double ref_kl_logprob = 0;
};

// One prompt's responses ranked by quality (a lower rank is better; equal ranks are ties).
struct RankedItem {
  std::vector<int64_t> prompt;
  std::vector<std::vector<int64_t>> responses;
  std::vector<int> ranks;
  // A preference pair's Llama 2 margin (reward model; only with two responses).
  std::optional<double> margin;
  // A preference pair's soft label: the probability, in [0, 1], that responses[0] (the chosen)
  // is preferred; the reward model's loss is then the cross-entropy against it. Unset = 1 (the
  // Bradley-Terry loss). Pairs only (ranks {0, 1}); RRHF ignores it. Callers validate it.
  std::optional<double> probability;
};

struct UpdateContext {
  World* world = nullptr;        // required; KTO's reference point is summed across its ranks
  int64_t begin = 0, end = 0;    // this rank's items [begin, end) of the batch
  int64_t micro_batch_size = 0;  // items per forward pass; <= 0 = all of this rank's at once
  bool bf16_autocast = false;    // forwards under bf16 autocast
  bool cuda = false;             // the policy's device kind, for autocast
  bool train = true;             // false: statistics only, without graphs or backward passes
  double loss_scale = 1.0;       // multiplies every loss before backward (gradient accumulation)
  // Back-propagates one micro-batch's scaled loss; empty = loss.backward().
  std::function<void(const at::Tensor& loss)> backward;
  // Asked before each micro-batch; a non-OK status stops the update with it (cancellation).
  std::function<absl::Status()> before_micro_batch;
};

// Calls fn(a, b) for consecutive micro-batches [a, b) of context.micro_batch_size items (all at
// once when it is <= 0) covering [context.begin, context.end), asking before_micro_batch first:
// the one micro-batch walk of the updates (the learner's rollout updates use it too).
absl::Status ForEachMicroBatch(const UpdateContext& context,
                               const std::function<absl::Status(int64_t, int64_t)>& fn);

// Statistics (sum, count) each update returns; "tokens" (response tokens scored) and
// "sequences" (rows forwarded) are counters (count 0, see StatSums::AddCounter).
//   SftUpdate          loss: weighted response-token NLL per weighted token
//   PairUpdate         loss (the total, per pair), pair_loss (the kind's term without NLL, a
//                      counter summed over pairs), nll_loss (per NLL token; ORPO, and DPO / SimPO
//                      with a non-zero NLL weight), log_odds_ratio (ORPO), rewards/chosen,
//                      rewards/rejected, rewards/margin, rewards/accuracy, logps/chosen,
//                      logps/rejected, logp_margin, avg_logp_margin
//   KtoUpdate          loss, kl (z0), rewards/chosen, rewards/rejected, logps/desirable,
//                      logps/undesirable
//   RrhfUpdate         loss, rank_loss, sft_loss (per group), logp_margin, avg_logp_margin (best
//                      vs worst response)
//   RewardModelUpdate  loss, accuracy and rewards/* per comparison (accuracy: the reward order
//                      agrees with the label, a probability < 0.5 preferring the rejected;
//                      comparisons with probability 0.5 are not in its count; rewards/accuracy
//                      is r_chosen > r_rejected on every comparison)

// Token-mean cross-entropy of the response tokens; normaliser: sum of weight x |response| over
// the batch. With options.packing the micro-batch is packed into rows (weights must be 1).
absl::StatusOr<StatSums> SftUpdate(model::TransformerImpl& policy,
                                   const std::vector<SftItem>& batch, const SftOptions& options,
                                   const UpdateContext& context);

// options.kind "dpo", "orpo" or "simpo". Per-pair losses are divided by the batch's pairs; the
// NLL terms by the batch's NLL tokens: ORPO's every predicted token of the chosen prompt +
// response (TRL), SimPO's (x cpo_alpha) and the RPO term's (x dpo_sft_weight) the chosen
// response tokens.
absl::StatusOr<StatSums> PairUpdate(model::TransformerImpl& policy,
                                    const std::vector<PairItem>& batch,
                                    const ObjectiveOptions& options, const UpdateContext& context);

// KTO with the reference point z0 estimated from every item's mismatched pair across ranks (or 0
// unless options.kto_mismatched_reference_point); losses divided by the batch's items.
absl::StatusOr<StatSums> KtoUpdate(model::TransformerImpl& policy,
                                   const std::vector<UnpairedItem>& batch,
                                   const ObjectiveOptions& options, const UpdateContext& context);

// RRHF, one forward pass per group (rewards = -rank); losses divided by the batch's groups.
absl::StatusOr<StatSums> RrhfUpdate(model::TransformerImpl& policy,
                                    const std::vector<RankedItem>& batch,
                                    const ObjectiveOptions& options, const UpdateContext& context);

// The Bradley-Terry loss on every comparison of each group (algorithms::RankingToPairs; a pair is
// a group of two with ranks {0, 1}, its margin and its probability: with one, the cross-entropy
// against it, algorithms::PairwiseRewardLoss), on the reward head's output at each response's
// last token, divided by the comparisons of the batch.
absl::StatusOr<StatSums> RewardModelUpdate(model::TransformerImpl& policy,
                                           const std::vector<RankedItem>& batch,
                                           const RewardModelObjectiveOptions& options,
                                           const UpdateContext& context);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_OFFLINE_UPDATES_H_
