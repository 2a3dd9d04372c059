#include "common/data/format_spec.h"

#include <utility>

namespace plumb::data {
namespace {

struct FormatInfo {
  FormatKind kind;
  const char* name;
  // Pairs of (logical field, default JSON key).
  std::vector<std::pair<std::string, std::string>> fields;
};

const std::vector<FormatInfo>& Formats() {
  static const auto* formats = new std::vector<FormatInfo>{
      {FormatKind::kHhRlhf, "hh_rlhf", {{"chosen", "chosen"}, {"rejected", "rejected"}}},
      {FormatKind::kRmStatic,
       "rm_static",
       {{"prompt", "prompt"}, {"chosen", "chosen"}, {"rejected", "rejected"}}},
      {FormatKind::kStackExchangePaired,
       "stack_exchange_paired",
       {{"prompt", "question"}, {"chosen", "response_j"}, {"rejected", "response_k"}}},
      {FormatKind::kPreference,
       "preference",
       {{"prompt", "prompt"}, {"chosen", "chosen"}, {"rejected", "rejected"}}},
      {FormatKind::kKto,
       "kto",
       {{"prompt", "prompt"}, {"completion", "completion"}, {"label", "label"}}},
      {FormatKind::kRanked,
       "ranked",
       {{"prompt", "prompt"}, {"responses", "responses"}, {"ranks", "ranks"}}},
      {FormatKind::kSft, "sft", {{"prompt", "prompt"}, {"response", "response"}}},
      {FormatKind::kText, "text", {{"text", "text"}}},
  };
  return *formats;
}

const FormatInfo& InfoOf(FormatKind kind) {
  for (const FormatInfo& info : Formats()) {
    if (info.kind == kind) return info;
  }
  return Formats().front();  // unreachable: every kind is listed
}

}  // namespace

absl::string_view FormatName(FormatKind kind) { return InfoOf(kind).name; }

std::optional<FormatKind> FormatKindFromName(absl::string_view name) {
  for (const FormatInfo& info : Formats()) {
    if (name == info.name) return info.kind;
  }
  return std::nullopt;
}

const std::vector<std::string>& AllFormatNames() {
  static const auto* names = [] {
    auto* names = new std::vector<std::string>;
    for (const FormatInfo& info : Formats()) names->push_back(info.name);
    return names;
  }();
  return *names;
}

bool IsPairFormat(FormatKind kind) {
  return kind == FormatKind::kHhRlhf || kind == FormatKind::kRmStatic ||
         kind == FormatKind::kStackExchangePaired || kind == FormatKind::kPreference;
}

std::map<std::string, double> DefaultMarginLabels() {
  return {{"significantly_better", 1.0},
          {"better", 2.0 / 3.0},
          {"slightly_better", 1.0 / 3.0},
          {"negligibly_better", 0.0}};
}

FormatSpec DefaultFormatSpec(FormatKind kind) {
  FormatSpec spec;
  spec.kind = kind;
  for (const auto& [logical, key] : InfoOf(kind).fields) spec.fields[logical] = key;
  if (IsPairFormat(kind)) {
    spec.fields["margin_label"] = "margin_label";
    spec.fields["margin"] = "margin";
    spec.fields["preference_probability"] = "preference_probability";
    spec.margins = DefaultMarginLabels();
  }
  return spec;
}

absl::string_view MalformedReasonName(MalformedReason reason) {
  switch (reason) {
    case MalformedReason::kInvalidJson:
      return "invalid_json";
    case MalformedReason::kNotAnObject:
      return "not_an_object";
    case MalformedReason::kMissingField:
      return "missing_field";
    case MalformedReason::kWrongType:
      return "wrong_type";
    case MalformedReason::kEmptyField:
      return "empty_field";
    case MalformedReason::kUnknownMarginLabel:
      return "unknown_margin_label";
    case MalformedReason::kIdenticalPair:
      return "identical_pair";
    case MalformedReason::kNoSharedPrompt:
      return "no_shared_prompt";
    case MalformedReason::kTooFewResponses:
      return "too_few_responses";
    case MalformedReason::kRanksMismatch:
      return "ranks_mismatch";
    case MalformedReason::kInvalidRank:
      return "invalid_rank";
    case MalformedReason::kInvalidProbability:
      return "invalid_probability";
  }
  return "unknown";
}

}  // namespace plumb::data
