// Scoring objective kinds as a registry. A kind (reward_model, afinn, length, format, ...) lives
// in one file that defines its options type, how they are read from the objective's YAML mapping
// and checked, and how its objective is built; one line in builtin_objective_kinds.cc registers
// it. ParseScorerOptions finds a kind by its YAML name; the ObjectiveOptions it fills then carry
// the kind itself, so Scorer::Create builds objectives without a lookup or a switch.
//
// Thread safety: a kind is immutable once made; a registry is filled at start-up, then only read.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_OBJECTIVE_KIND_H_
#define PLUMB_SERVICES_PLUMB_SCORER_OBJECTIVE_KIND_H_

#include <any>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/config/config_map.h"
#include "services/plumb-scorer/scorer_options.h"

namespace plumb::scorer {

class ScoringObjective;

// What GetInfo reports as an objective's kind: scorer.proto's ObjectiveKind, without the proto.
// Several registered kinds may share one (length and format are both rules).
enum class ObjectiveCategory { kRewardModel, kLexicon, kRule, kLmJudge };

// One registered kind. Its options travel in ObjectiveOptions::kind_options as a std::any of the
// kind's own options type; make kinds with MakeObjectiveKind, which checks that type.
struct ScoringObjectiveKind {
  std::string name;  // the YAML spelling (`kind: afinn`), also ObjectiveDescription::kind
  ObjectiveCategory category = ObjectiveCategory::kRule;
  // Reads the kind's own keys of one objective's mapping (the keys every kind shares, name, kind,
  // tokenizer, mean and stddev, are read already). Errors are ConfigMap's.
  std::function<absl::StatusOr<std::any>(config::ConfigMap& m, absl::string_view base_dir)> parse;
  // Checks kind options built in code; INVALID_ARGUMENT whose message the caller prefixes with
  // the objective's name.
  std::function<absl::Status(const std::any& kind_options)> validate;
  // Builds the objective: loads its model, lexicon or pattern. Errors name the objective.
  std::function<absl::StatusOr<std::unique_ptr<ScoringObjective>>(const ObjectiveOptions& objective,
                                                                  int max_batch_size)>
      create;
};

// What a kind's file writes: a ScoringObjectiveKind typed by the kind's options, which must be
// default-constructible (the defaults of every key) and copyable.
template <typename Options>
struct ObjectiveKindDefinition {
  std::string name;
  ObjectiveCategory category = ObjectiveCategory::kRule;
  // `options` holds the defaults; reads the keys present into it.
  std::function<absl::Status(config::ConfigMap& m, absl::string_view base_dir, Options* options)>
      parse;
  std::function<absl::Status(const Options& options)> validate;  // unset: nothing to check
  std::function<absl::StatusOr<std::unique_ptr<ScoringObjective>>(
      const ObjectiveOptions& objective, const Options& options, int max_batch_size)>
      create;
};

// The kind options of `objective` when they are of type Options, else null (also when empty).
template <typename Options>
const Options* KindOptionsAs(const ObjectiveOptions& objective) {
  return std::any_cast<Options>(&objective.kind_options);
}
template <typename Options>
Options* KindOptionsAs(ObjectiveOptions& objective) {
  return std::any_cast<Options>(&objective.kind_options);
}

// `kind_options` as the kind's Options: its defaults when empty, INVALID_ARGUMENT when they are
// options of another type (options built in code for another kind).
template <typename Options>
absl::StatusOr<Options> KindOptionsOrDefaults(const std::any& kind_options,
                                              absl::string_view kind) {
  if (!kind_options.has_value()) return Options();
  if (const Options* typed = std::any_cast<Options>(&kind_options)) return *typed;
  return absl::InvalidArgumentError(
      absl::StrCat("kind_options are not options of kind '", kind, "'"));
}

template <typename Options>
std::shared_ptr<const ScoringObjectiveKind> MakeObjectiveKind(
    ObjectiveKindDefinition<Options> definition) {
  auto kind = std::make_shared<ScoringObjectiveKind>();
  kind->name = definition.name;
  kind->category = definition.category;
  kind->parse = [parse = definition.parse](config::ConfigMap& m,
                                           absl::string_view base_dir) -> absl::StatusOr<std::any> {
    Options options;
    if (absl::Status status = parse(m, base_dir, &options); !status.ok()) return status;
    return std::any(std::move(options));
  };
  kind->validate = [name = definition.name,
                    validate = definition.validate](const std::any& kind_options) -> absl::Status {
    absl::StatusOr<Options> options = KindOptionsOrDefaults<Options>(kind_options, name);
    if (!options.ok()) return options.status();
    return validate ? validate(*options) : absl::OkStatus();
  };
  kind->create = [name = definition.name, create = definition.create](
                     const ObjectiveOptions& objective,
                     int max_batch_size) -> absl::StatusOr<std::unique_ptr<ScoringObjective>> {
    absl::StatusOr<Options> options = KindOptionsOrDefaults<Options>(objective.kind_options, name);
    if (!options.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("objective '", objective.name, "': ", options.status().message()));
    }
    return create(objective, *options, max_batch_size);
  };
  return kind;
}

// Kinds by name, in registration order (the order configuration errors list them).
class ObjectiveKindRegistry {
 public:
  // INVALID_ARGUMENT for a kind without a name, parse, validate or create, or whose name is
  // registered already.
  absl::Status Add(std::shared_ptr<const ScoringObjectiveKind> kind);
  // Null when no kind has this name.
  std::shared_ptr<const ScoringObjectiveKind> Find(absl::string_view name) const;
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::vector<std::shared_ptr<const ScoringObjectiveKind>> kinds_;
  std::vector<std::string> names_;
};

// reward_model, afinn, length and format (builtin_objective_kinds.cc).
const ObjectiveKindRegistry& BuiltinObjectiveKinds();

// Helpers for a kind's parse.
inline constexpr double kLargestConfigNumber = 1e308;  // the top of open-ended DoubleRanges
// `path` resolved against `base_dir` (the config file's folder); absolute paths, "byte" (a
// tokenizer name), "" and an empty base_dir keep it as written.
std::string ResolveConfigPath(absl::string_view base_dir, const std::string& path);
// OK when `key` is present, else "missing; add e.g. `<example>`".
absl::Status RequireKey(const config::ConfigMap& m, absl::string_view key,
                        absl::string_view example);

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_OBJECTIVE_KIND_H_
