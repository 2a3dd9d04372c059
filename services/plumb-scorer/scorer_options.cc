#include "services/plumb-scorer/scorer_options.h"

#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/model/hf_checkpoint.h"
#include "common/status/status_macros.h"

namespace plumb::scorer {
namespace {

using config::ConfigMap;
using config::DoubleRange;
using config::IntRange;

constexpr double kHuge = 1e308;

// Absolute paths, "byte" (a tokenizer name) and an empty base_dir keep the value as written.
std::string Resolve(absl::string_view base_dir, const std::string& path) {
  if (base_dir.empty() || path.empty() || path.front() == '/' || path == "byte") return path;
  if (base_dir.back() == '/') return absl::StrCat(base_dir, path);
  return absl::StrCat(base_dir, "/", path);
}

bool IsValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

absl::Status Required(ConfigMap& m, absl::string_view key, absl::string_view example) {
  if (m.Has(key)) return absl::OkStatus();
  return m.Error(key, absl::StrCat("missing; add e.g. `", example, "`"));
}

absl::Status ParseRewardModel(ConfigMap& m, absl::string_view base_dir, RewardModelOptions* o) {
  RETURN_IF_ERROR(Required(m, "path", "path: models/rm_help"));
  RETURN_IF_ERROR(m.Read("path", &o->path));
  if (o->path.empty()) return m.Error("path", "must name a model folder");
  o->path = Resolve(base_dir, o->path);
  RETURN_IF_ERROR(m.Read("output", &o->output, IntRange{0, 1 << 20}));
  RETURN_IF_ERROR(m.Read("sigmoid", &o->sigmoid));
  RETURN_IF_ERROR(m.Read("dtype", &o->dtype));
  RETURN_IF_ERROR(m.Read("device", &o->device));
  if (absl::Status placement = model::ParsePlacement(o->dtype, o->device).status();
      !placement.ok()) {
    return m.Error(m.Has("device") ? "device" : "dtype", placement.message());
  }
  return absl::OkStatus();
}

absl::Status ParseAfinn(ConfigMap& m, absl::string_view base_dir, AfinnOptions* o) {
  RETURN_IF_ERROR(m.Read("lexicon", &o->lexicon));
  if (o->lexicon.empty()) return m.Error("lexicon", "must name the lexicon file");
  o->lexicon = Resolve(base_dir, o->lexicon);
  std::string reduce = "mean";
  RETURN_IF_ERROR(m.ReadChoice("reduce", &reduce, {"mean", "sum"}));
  o->reduce = reduce == "sum" ? AfinnReduce::kSum : AfinnReduce::kMean;
  std::string context = "response";
  RETURN_IF_ERROR(m.ReadChoice("context", &context, {"response", "prompt_and_response_delta"}));
  o->context =
      context == "response" ? AfinnContext::kResponse : AfinnContext::kPromptAndResponseDelta;
  return absl::OkStatus();
}

absl::Status ParseLength(ConfigMap& m, LengthOptions* o) {
  RETURN_IF_ERROR(Required(m, "target_chars", "target_chars: 200"));
  RETURN_IF_ERROR(m.Read("target_chars", &o->target_chars, IntRange{0, 1'000'000'000}));
  return m.Read("scale", &o->scale, DoubleRange{0.0, kHuge, /*min_exclusive=*/true});
}

absl::Status ParseFormat(ConfigMap& m, FormatOptions* o) {
  RETURN_IF_ERROR(Required(m, "pattern", "pattern: '(?s)Answer: .+'"));
  RETURN_IF_ERROR(m.Read("pattern", &o->pattern));
  if (o->pattern.empty()) return m.Error("pattern", "must not be empty");
  RETURN_IF_ERROR(m.Read("score_match", &o->score_match));
  return m.Read("score_miss", &o->score_miss);
}

absl::StatusOr<ObjectiveOptions> ParseObjective(ConfigMap& m, const std::string& name,
                                                absl::string_view base_dir) {
  ObjectiveOptions o;
  o.name = name;
  RETURN_IF_ERROR(Required(m, "kind", "kind: afinn (reward_model, afinn, length or format)"));
  std::string kind;
  RETURN_IF_ERROR(m.ReadChoice("kind", &kind, {"reward_model", "afinn", "length", "format"}));
  RETURN_IF_ERROR(m.Read("tokenizer", &o.tokenizer));
  o.tokenizer = Resolve(base_dir, o.tokenizer);
  RETURN_IF_ERROR(m.Read("mean", &o.mean));
  RETURN_IF_ERROR(m.Read("stddev", &o.stddev, DoubleRange{0.0, kHuge}));
  if (kind == "reward_model") {
    o.kind = ObjectiveKind::kRewardModel;
    RETURN_IF_ERROR(ParseRewardModel(m, base_dir, &o.reward_model));
  } else if (kind == "afinn") {
    o.kind = ObjectiveKind::kAfinn;
    RETURN_IF_ERROR(ParseAfinn(m, base_dir, &o.afinn));
  } else if (kind == "length") {
    o.kind = ObjectiveKind::kLength;
    RETURN_IF_ERROR(ParseLength(m, &o.length));
  } else {
    o.kind = ObjectiveKind::kFormat;
    RETURN_IF_ERROR(ParseFormat(m, &o.format));
  }
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
    RETURN_IF_ERROR(Required(*gating, "safety_objective", "safety_objective: safety"));
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

absl::string_view ObjectiveKindName(ObjectiveKind kind) {
  switch (kind) {
    case ObjectiveKind::kRewardModel:
      return "reward_model";
    case ObjectiveKind::kAfinn:
      return "afinn";
    case ObjectiveKind::kLength:
      return "length";
    case ObjectiveKind::kFormat:
      return "format";
  }
  return "unknown";
}

absl::StatusOr<ScorerOptions> ParseScorerOptions(ConfigMap& section, absl::string_view base_dir) {
  ScorerOptions o;
  RETURN_IF_ERROR(
      section.Read("max_items_per_request", &o.max_items_per_request, IntRange{1, 1'000'000}));
  RETURN_IF_ERROR(section.Read("max_batch_size", &o.max_batch_size, IntRange{1, 65'536}));
  RETURN_IF_ERROR(section.Read("cache_entries", &o.cache_entries, IntRange{0, 1'000'000'000}));
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
    ASSIGN_OR_RETURN(ObjectiveOptions objective, ParseObjective(*definition, name, base_dir));
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
    switch (objective.kind) {
      case ObjectiveKind::kRewardModel:
        if (objective.reward_model.path.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(where, "path is empty"));
        }
        if (objective.reward_model.output < 0) {
          return absl::InvalidArgumentError(absl::StrCat(where, "output must be >= 0"));
        }
        break;
      case ObjectiveKind::kAfinn:
        break;
      case ObjectiveKind::kLength:
        if (objective.length.target_chars < 0 || !(objective.length.scale > 0) ||
            !std::isfinite(objective.length.scale)) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, "target_chars must be >= 0 and scale finite and > 0"));
        }
        break;
      case ObjectiveKind::kFormat:
        if (objective.format.pattern.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(where, "pattern is empty"));
        }
        if (!std::isfinite(objective.format.score_match) ||
            !std::isfinite(objective.format.score_miss)) {
          return absl::InvalidArgumentError(absl::StrCat(where, "scores must be finite"));
        }
        break;
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
