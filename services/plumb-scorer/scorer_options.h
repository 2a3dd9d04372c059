// The typed configuration of the scorer core, filled from the `scorer:` section of the service
// YAML (see scorer.example.yaml for every key) or built in code by tests.
//
// ConfigMap cannot list the keys of a mapping or read a list of mappings, so objectives are
// given as a list of names (`objectives: [a, b]`, which fixes their order in every response)
// plus one mapping per name under `objective_options:`.
//
// Thread safety: plain value types; the parser runs at start-up on one thread.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_SCORER_OPTIONS_H_
#define PLUMB_SERVICES_PLUMB_SCORER_SCORER_OPTIONS_H_

#include <any>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config/config_map.h"

namespace plumb::scorer {

// A kind registry (objective_kind.h); the options carry the kind they were parsed as.
struct ScoringObjectiveKind;
class ObjectiveKindRegistry;
const ObjectiveKindRegistry& BuiltinObjectiveKinds();

struct ObjectiveOptions {
  std::string name;                                  // [A-Za-z0-9_-]+, unique
  std::shared_ptr<const ScoringObjectiveKind> kind;  // e.g. AfinnObjectiveKind()
  // The kind's own options, of the type its file defines (e.g. AfinnOptions); empty = the
  // kind's defaults. Read them with KindOptionsAs<T>.
  std::any kind_options;
  // A LoadTokenizer path or "byte". reward_model: encodes text-only items; "" = the model
  // folder's tokenizer when it has one. Text objectives: decodes ids-only responses; "" = none.
  std::string tokenizer;
  // Normalisation before composition, (raw - mean) / stddev; stddev 0 = none (as ObjectiveInfo).
  double mean = 0.0;
  double stddev = 0.0;
};

struct ObjectiveWeight {
  std::string objective;
  double weight = 0.0;
};

struct SafetyGatingOptions {
  std::string safety_objective;
  double threshold = 0.15;  // in the safety objective's normalised units
  std::string prompt_flag_key = "unsafe";
};

// scorer.proto's RewardComposition, field for field.
struct CompositionOptions {
  std::vector<ObjectiveWeight> weights;  // in the order of the objective list
  std::optional<SafetyGatingOptions> gating;
  bool logit_transform = false;
  double offset = 0.0;
  double scale = 1.0;  // 0 means 1
};

struct ScorerOptions {
  int max_items_per_request = 1024;
  int max_batch_size = 32;    // sequences per reward-model forward pass
  int64_t cache_entries = 0;  // LRU capacity in (objective, item) scores; 0 = no cache
  int threads = 0;            // LibTorch / BLAS threads per operator; 0 = the default
  std::vector<ObjectiveOptions> objectives;
  CompositionOptions composition;
  // The judge of Compare requests that name none: "composed_reward" (also "") or an lm_judge
  // objective.
  std::string default_judge;
};

// Reads the `scorer:` mapping; each objective's `kind` names one of `kinds`. Relative model,
// tokenizer and lexicon paths are resolved against `base_dir` (the config file's folder; ""
// keeps them as written). Errors are ConfigMap's "file:line: key 'scorer.x': ..."
// INVALID_ARGUMENT. When `composition.weights` is absent a single objective gets weight 1; with
// several objectives the weights must be given.
absl::StatusOr<ScorerOptions> ParseScorerOptions(
    config::ConfigMap& section, absl::string_view base_dir,
    const ObjectiveKindRegistry& kinds = BuiltinObjectiveKinds());

// Checks what a parser cannot see in one key: names unique and well formed, a kind set and its
// options valid for it, composition naming configured objectives, finite numbers. Scorer::Create
// calls it for options built in code.
absl::Status ValidateScorerOptions(const ScorerOptions& options);

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_SCORER_OPTIONS_H_
