#include "services/plumb-scorer/scorer_options.h"

#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"
#include "services/plumb-scorer/objective_kind.h"

namespace plumb::scorer {
namespace {

using config::ConfigMap;
using config::DoubleRange;
using config::IntRange;

bool IsValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// "a, b or c".
std::string JoinOr(const std::vector<std::string>& names) {
  if (names.size() < 2) return absl::StrJoin(names, "");
  return absl::StrCat(absl::StrJoin(names.begin(), names.end() - 1, ", "), " or ", names.back());
}

absl::StatusOr<ObjectiveOptions> ParseObjective(ConfigMap& m, const std::string& name,
                                                absl::string_view base_dir,
                                                const ObjectiveKindRegistry& kinds) {
  ObjectiveOptions o;
  o.name = name;
  const std::vector<std::string>& names = kinds.names();
  const std::string example =
      kinds.Find("afinn") != nullptr || names.empty() ? "afinn" : names.front();
  RETURN_IF_ERROR(RequireKey(m, "kind", absl::StrCat("kind: ", example, " (", JoinOr(names), ")")));
  std::string kind;
  RETURN_IF_ERROR(m.ReadChoice("kind", &kind, names));
  RETURN_IF_ERROR(m.Read("tokenizer", &o.tokenizer));
  o.tokenizer = ResolveConfigPath(base_dir, o.tokenizer);
  RETURN_IF_ERROR(m.Read("mean", &o.mean));
  RETURN_IF_ERROR(m.Read("stddev", &o.stddev, DoubleRange{0.0, kLargestConfigNumber}));
  o.kind = kinds.Find(kind);
  ASSIGN_OR_RETURN(o.kind_options, o.kind->parse(m, base_dir));
  // Keys of another kind (e.g. target_chars on an afinn objective) are unknown here.
  RETURN_IF_ERROR(m.Finish());
  return o;
}

absl::Status ParseComposition(ConfigMap& m, const std::vector<std::string>& names,
                              CompositionOptions* o) {
  ASSIGN_OR_RETURN(std::optional<ConfigMap> weights, m.Child("weights"));
  if (weights.has_value()) {
    for (const std::string& name : names) {
      double weight = 0.0;
      RETURN_IF_ERROR(weights->Read(name, &weight));  // marks every objective as a known key
      if (weights->Has(name)) o->weights.push_back({name, weight});
    }
    if (absl::Status status = weights->Finish(); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(status.message(), "; weights name objectives listed in 'objectives'"));
    }
    if (o->weights.empty()) {
      return m.Error("weights", "names no objective; give e.g. {helpfulness: 1.0}");
    }
  }
  ASSIGN_OR_RETURN(std::optional<ConfigMap> gating, m.Child("gating"));
  if (gating.has_value()) {
    SafetyGatingOptions g;
    RETURN_IF_ERROR(RequireKey(*gating, "safety_objective", "safety_objective: safety"));
    RETURN_IF_ERROR(gating->ReadChoice("safety_objective", &g.safety_objective, names));
    RETURN_IF_ERROR(gating->Read("threshold", &g.threshold));
    RETURN_IF_ERROR(gating->Read("prompt_flag_key", &g.prompt_flag_key));
    if (g.prompt_flag_key.empty()) {
      return gating->Error("prompt_flag_key", "must not be empty (the default is 'unsafe')");
    }
    RETURN_IF_ERROR(gating->Finish());
    o->gating = std::move(g);
  }
  RETURN_IF_ERROR(m.Read("logit_transform", &o->logit_transform));
  RETURN_IF_ERROR(m.Read("offset", &o->offset));
  RETURN_IF_ERROR(m.Read("scale", &o->scale));
  return m.Finish();
}

}  // namespace

absl::StatusOr<ScorerOptions> ParseScorerOptions(ConfigMap& section, absl::string_view base_dir,
                                                 const ObjectiveKindRegistry& kinds) {
  ScorerOptions o;
  RETURN_IF_ERROR(
      section.Read("max_items_per_request", &o.max_items_per_request, IntRange{1, 1'000'000}));
  RETURN_IF_ERROR(section.Read("max_batch_size", &o.max_batch_size, IntRange{1, 65'536}));
  RETURN_IF_ERROR(section.Read("cache_entries", &o.cache_entries, IntRange{0, 1'000'000'000}));
  RETURN_IF_ERROR(section.Read("default_judge", &o.default_judge));
  RETURN_IF_ERROR(section.Read("threads", &o.threads, IntRange{0, 1024}));

  std::vector<std::string> names;
  RETURN_IF_ERROR(section.Read("objectives", &names));
  if (names.empty()) {
    return section.Error("objectives",
                         "list at least one objective name, e.g. [helpfulness, sentiment], and "
                         "describe each under objective_options");
  }
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (!IsValidName(name)) {
      return section.Error("objectives", absl::StrCat("'", name,
                                                      "' is not a valid objective name; use "
                                                      "letters, digits, '_' and '-'"));
    }
    if (!seen.insert(name).second) {
      return section.Error("objectives", absl::StrCat("'", name, "' is listed twice"));
    }
  }
  ASSIGN_OR_RETURN(std::optional<ConfigMap> definitions, section.Child("objective_options"));
  if (!definitions.has_value()) {
    return section.Error("objective_options",
                         absl::StrCat("missing; give one mapping per objective, e.g. "
                                      "objective_options: {",
                                      names.front(), ": {kind: afinn}}"));
  }
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(std::optional<ConfigMap> definition, definitions->Child(name));
    if (!definition.has_value()) {
      return definitions->Error(
          name, "missing; every objective listed in 'objectives' needs a mapping here");
    }
    ASSIGN_OR_RETURN(ObjectiveOptions objective,
                     ParseObjective(*definition, name, base_dir, kinds));
    o.objectives.push_back(std::move(objective));
  }
  if (absl::Status status = definitions->Finish(); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        status.message(), "; an objective defined here must also be listed in 'objectives'"));
  }

  ASSIGN_OR_RETURN(std::optional<ConfigMap> composition, section.Child("composition"));
  if (composition.has_value()) {
    RETURN_IF_ERROR(ParseComposition(*composition, names, &o.composition));
  }
  if (o.composition.weights.empty()) {
    if (names.size() > 1) {
      return section.Error("composition",
                           absl::StrCat("needs weights when there are several objectives; add "
                                        "e.g. composition: {weights: {",
                                        names.front(), ": 1.0}}"));
    }
    o.composition.weights.push_back({names.front(), 1.0});
  }
  RETURN_IF_ERROR(section.Finish());
  RETURN_IF_ERROR(ValidateScorerOptions(o));
  return o;
}

absl::Status ValidateScorerOptions(const ScorerOptions& o) {
  if (o.max_items_per_request < 1) {
    return absl::InvalidArgumentError("scorer: max_items_per_request must be >= 1");
  }
  if (o.max_batch_size < 1)
    return absl::InvalidArgumentError("scorer: max_batch_size must be >= 1");
  if (o.cache_entries < 0) return absl::InvalidArgumentError("scorer: cache_entries must be >= 0");
  if (o.objectives.empty()) return absl::InvalidArgumentError("scorer: no objectives configured");
  std::set<std::string> names;
  for (const ObjectiveOptions& objective : o.objectives) {
    const std::string where = absl::StrCat("scorer: objective '", objective.name, "': ");
    if (!IsValidName(objective.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "not a valid name; use letters, digits, '_' and '-'"));
    }
    if (!names.insert(objective.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, "configured twice"));
    }
    if (!std::isfinite(objective.mean) || !std::isfinite(objective.stddev) ||
        objective.stddev < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "mean must be finite and stddev finite and >= 0"));
    }
    if (objective.kind == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where, "no kind set"));
    }
    if (absl::Status status = objective.kind->validate(objective.kind_options); !status.ok()) {
      return absl::Status(status.code(), absl::StrCat(where, status.message()));
    }
  }
  const std::string configured = absl::StrJoin(names, ", ");
  const CompositionOptions& c = o.composition;
  std::set<std::string> weighted;
  for (const ObjectiveWeight& weight : c.weights) {
    if (!names.contains(weight.objective)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scorer: composition weights name unknown objective '", weight.objective,
                       "'; configured objectives: ", configured));
    }
    if (!weighted.insert(weight.objective).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("scorer: composition weights name '", weight.objective, "' twice"));
    }
    if (!std::isfinite(weight.weight)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scorer: composition weight of '", weight.objective, "' is not finite"));
    }
  }
  if (c.gating.has_value()) {
    if (!names.contains(c.gating->safety_objective)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scorer: composition gating names unknown safety objective '",
                       c.gating->safety_objective, "'; configured objectives: ", configured));
    }
    if (!std::isfinite(c.gating->threshold) || c.gating->prompt_flag_key.empty()) {
      return absl::InvalidArgumentError(
          "scorer: composition gating needs a finite threshold and a prompt_flag_key");
    }
  }
  if (!std::isfinite(c.offset) || !std::isfinite(c.scale)) {
    return absl::InvalidArgumentError("scorer: composition offset and scale must be finite");
  }
  return absl::OkStatus();
}

}  // namespace plumb::scorer
