// The `reward_model` objective: the reward head of a Hugging Face model folder (config.json with
// plumb_num_reward_outputs >= 1), read at the last token of prompt + response. score =
// Rewards(last_hidden)[output], or its sigmoid when `sigmoid` is set (Llama 2 gates on a
// probability). Text-only prompts/responses are encoded with the objective's tokenizer (no BOS
// added, prompt and response encoded separately, as scorer.proto says).
//
// The weights live in a weights::VersionedModel, swapped by LoadWeights streams exactly as the
// generator's and reference's models are (ModelForWeights).
//
// Thread safety: Prepare/Run/Describe may be called from many threads, and a weight load may run
// meanwhile. Prepare pins the current snapshot, so a batch in flight finishes on the weights it
// started with while a load swaps in the next. Forward passes on one snapshot are serialised by
// that snapshot's use_mu (a LibTorch module is used by one thread at a time), so concurrent
// requests queue rather than race; the service may still put a single runner thread in front for
// batching across requests.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_REWARD_MODEL_OBJECTIVE_H_
#define PLUMB_SERVICES_PLUMB_SCORER_REWARD_MODEL_OBJECTIVE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/plumb-scorer/objective.h"

namespace plumb::scorer {

// Loads the model (LoadHfModel, placed per dtype/device) and its tokenizer: `tokenizer` when
// set, else the model folder's tokenizer files when present, else none (ids-only items).
// INVALID_ARGUMENT when the model has no reward output `output`.
absl::StatusOr<std::unique_ptr<Objective>> CreateRewardModelObjective(
    const ObjectiveOptions& options, int max_batch_size);

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_REWARD_MODEL_OBJECTIVE_H_
