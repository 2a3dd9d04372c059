// The `reward_model` objective kind: the reward head of a Hugging Face model folder (config.json
// with plumb_num_reward_outputs >= 1), read at the last token of prompt + response. score =
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
#include <string>

#include "services/plumb-scorer/objective_kind.h"

namespace plumb::scorer {

// A scoring objective backed by a reward model. Keys: path (required), output, sigmoid, dtype,
// device.
struct RewardModelScorerOptions {
  std::string path;      // model folder (config.json with plumb_num_reward_outputs >= 1 + weights)
  int output = 0;        // column of the reward head [K] that is this objective's score
  bool sigmoid = false;  // report sigmoid(raw) instead of the raw head output
  std::string dtype = "float32";  // model::ParsePlacement spellings
  std::string device = "cpu";
};

// The kind, category reward model, options RewardModelScorerOptions. Creating one loads the
// model (LoadHfModel, placed per dtype/device) and its tokenizer: the objective's `tokenizer`
// when set, else the model folder's tokenizer files when present, else none (ids-only items).
// INVALID_ARGUMENT when the model has no reward output `output`.
std::shared_ptr<const ScoringObjectiveKind> RewardModelObjectiveKind();

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_REWARD_MODEL_OBJECTIVE_H_
