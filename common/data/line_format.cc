#include "common/data/line_format.h"

#include <climits>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/json/parse_json.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::data {
namespace {

using Json = nlohmann::json;

// "string", "number 1.5", "boolean true", "null", "array", "object".
std::string Describe(const Json& value) {
  if (value.is_number() || value.is_boolean()) {
    return absl::StrCat(value.type_name(), " ", value.dump());
  }
  return value.type_name();
}

constexpr absl::string_view kAssistantMarker = "\n\nAssistant:";

// Reads the fields of one JSON object, turning every problem into "FILE:LINE: REASON".
class RowReader {
 public:
  RowReader(const Json& row, const FormatSpec& spec, const SourcePosition& position,
            MalformedReason* reason)
      : row_(row), spec_(spec), position_(position), reason_(reason) {}

  absl::Status Fail(MalformedReason reason, absl::string_view message) const {
    if (reason_ != nullptr) *reason_ = reason;
    return absl::InvalidArgumentError(
        absl::StrCat(position_.file, ":", position_.line, ": ", message));
  }

  // The JSON key of a logical field (the logical name itself when the spec lacks it).
  std::string Key(const std::string& logical) const {
    auto it = spec_.fields.find(logical);
    return it == spec_.fields.end() ? logical : it->second;
  }

  // The value of a required field, or a "missing" error with the remap hint.
  absl::StatusOr<const Json*> Required(const std::string& logical) const {
    auto it = row_.find(Key(logical));
    if (it == row_.end()) {
      return Fail(MalformedReason::kMissingField,
                  absl::StrCat("field '", Key(logical), "' is missing (format ",
                               FormatName(spec_.kind), "; remap with fields.", logical, ")"));
    }
    return &*it;
  }

  absl::Status String(const std::string& logical, bool allow_empty, std::string* out) const {
    ASSIGN_OR_RETURN(const Json* value, Required(logical));
    if (!value->is_string()) {
      return Fail(
          MalformedReason::kWrongType,
          absl::StrCat("field '", Key(logical), "' must be a string, got ", Describe(*value)));
    }
    *out = value->get<std::string>();
    if (out->empty() && !allow_empty) {
      return Fail(MalformedReason::kEmptyField,
                  absl::StrCat("field '", Key(logical), "' is empty"));
    }
    return absl::OkStatus();
  }

  // Absent or null -> nullptr.
  const Json* Optional(const std::string& logical) const {
    auto it = row_.find(Key(logical));
    return it == row_.end() || it->is_null() ? nullptr : &*it;
  }

  absl::Status Margins(PreferencePair* pair) const {
    if (const Json* label = Optional("margin_label"); label != nullptr) {
      if (!label->is_string()) {
        return Fail(MalformedReason::kWrongType,
                    absl::StrCat("field '", Key("margin_label"), "' must be a string, got ",
                                 Describe(*label)));
      }
      const std::string text = label->get<std::string>();
      auto it = spec_.margins.find(text);
      if (it == spec_.margins.end()) {
        std::vector<std::string> allowed;
        for (const auto& [name, value] : spec_.margins) allowed.push_back(name);
        return Fail(
            MalformedReason::kUnknownMarginLabel,
            absl::StrCat("margin label ", Echo(text, kDefaultEchoBytes, '\''), " in field '",
                         Key("margin_label"), "' is not allowed; expected one of: ",
                         absl::StrJoin(allowed, ", "), " (configure with margins)"));
      }
      pair->margin_label = text;
      pair->margin = it->second;
    }
    if (const Json* margin = Optional("margin"); margin != nullptr) {
      if (!margin->is_number()) {
        return Fail(
            MalformedReason::kWrongType,
            absl::StrCat("field '", Key("margin"), "' must be a number, got ", Describe(*margin)));
      }
      pair->margin = margin->get<double>();
    }
    return absl::OkStatus();
  }

  // The optional soft label: a number in [0, 1] (absent or null = none).
  absl::Status PreferenceProbability(PreferencePair* pair) const {
    const Json* probability = Optional("preference_probability");
    if (probability == nullptr) return absl::OkStatus();
    const std::string key = Key("preference_probability");
    if (!probability->is_number()) {
      return Fail(MalformedReason::kWrongType,
                  absl::StrCat("field '", key, "' must be a number, got ", Describe(*probability)));
    }
    // JSON has no NaN or infinity (ParseJson refuses an overflowing literal), but the value must
    // never reach the loss if one slipped through.
    const double value = probability->get<double>();
    if (!std::isfinite(value) || value < 0.0 || value > 1.0) {
      return Fail(MalformedReason::kInvalidProbability,
                  absl::StrCat("field '", key, "' is ",
                               std::isfinite(value) ? json_input::EchoJson(*probability)
                                                    : std::string("not finite"),
                               "; a preference probability is a number in [0, 1] (the "
                               "probability that chosen is preferred)"));
    }
    pair->preference_probability = value;
    return absl::OkStatus();
  }

  absl::StatusOr<PreferencePair> Pair() const {
    PreferencePair pair;
    if (spec_.kind != FormatKind::kHhRlhf) {
      RETURN_IF_ERROR(String("prompt", /*allow_empty=*/false, &pair.prompt));
    }
    RETURN_IF_ERROR(String("chosen", /*allow_empty=*/false, &pair.chosen));
    RETURN_IF_ERROR(String("rejected", /*allow_empty=*/false, &pair.rejected));
    if (pair.chosen == pair.rejected) {
      return Fail(MalformedReason::kIdenticalPair, "chosen and rejected are identical");
    }
    if (spec_.kind == FormatKind::kHhRlhf) RETURN_IF_ERROR(SplitSharedPrompt(&pair));
    RETURN_IF_ERROR(Margins(&pair));
    RETURN_IF_ERROR(PreferenceProbability(&pair));
    return pair;
  }

  // prompt = the common prefix up to and including the last "\n\nAssistant:" inside it.
  absl::Status SplitSharedPrompt(PreferencePair* pair) const {
    const std::string& chosen = pair->chosen;
    const std::string& rejected = pair->rejected;
    size_t common = 0;
    while (common < chosen.size() && common < rejected.size() &&
           chosen[common] == rejected[common]) {
      ++common;
    }
    size_t marker = std::string::npos;
    if (common >= kAssistantMarker.size()) {
      marker = chosen.rfind(kAssistantMarker.data(), common - kAssistantMarker.size(),
                            kAssistantMarker.size());
    }
    if (marker == std::string::npos) {
      return Fail(MalformedReason::kNoSharedPrompt,
                  "chosen and rejected share no prompt ending in '\\n\\nAssistant:'");
    }
    const size_t prompt_size = marker + kAssistantMarker.size();
    if (chosen.size() == prompt_size || rejected.size() == prompt_size) {
      return Fail(MalformedReason::kEmptyField,
                  absl::StrCat("field '", Key(chosen.size() == prompt_size ? "chosen" : "rejected"),
                               "' has no reply after the shared prompt"));
    }
    pair->prompt = chosen.substr(0, prompt_size);
    pair->chosen.erase(0, prompt_size);
    pair->rejected.erase(0, prompt_size);
    return absl::OkStatus();
  }

  absl::StatusOr<UnpairedExample> Unpaired() const {
    UnpairedExample example;
    RETURN_IF_ERROR(String("prompt", /*allow_empty=*/false, &example.prompt));
    RETURN_IF_ERROR(String("completion", /*allow_empty=*/false, &example.completion));
    ASSIGN_OR_RETURN(const Json* label, Required("label"));
    if (!label->is_boolean()) {
      return Fail(MalformedReason::kWrongType,
                  absl::StrCat("field '", Key("label"),
                               "' must be a boolean (true = desirable), got ", Describe(*label)));
    }
    example.desirable = label->get<bool>();
    return example;
  }

  absl::StatusOr<RankedList> Ranked() const {
    RankedList list;
    RETURN_IF_ERROR(String("prompt", /*allow_empty=*/false, &list.prompt));
    ASSIGN_OR_RETURN(const Json* responses, Required("responses"));
    const std::string responses_key = Key("responses");
    if (!responses->is_array()) {
      return Fail(MalformedReason::kWrongType,
                  absl::StrCat("field '", responses_key, "' must be an array of strings, got ",
                               Describe(*responses)));
    }
    for (size_t i = 0; i < responses->size(); ++i) {
      const Json& item = (*responses)[i];
      if (!item.is_string()) {
        return Fail(MalformedReason::kWrongType,
                    absl::StrCat("field '", responses_key, "' entry ", i, " must be a string, got ",
                                 Describe(item)));
      }
      list.responses.push_back(item.get<std::string>());
      if (list.responses.back().empty()) {
        return Fail(MalformedReason::kEmptyField,
                    absl::StrCat("field '", responses_key, "' entry ", i, " is empty"));
      }
    }
    if (list.responses.size() < 2) {
      return Fail(MalformedReason::kTooFewResponses,
                  absl::StrCat("field '", responses_key, "' has ", list.responses.size(),
                               " responses; a ranked list needs at least 2"));
    }
    ASSIGN_OR_RETURN(const Json* ranks, Required("ranks"));
    const std::string ranks_key = Key("ranks");
    if (!ranks->is_array()) {
      return Fail(MalformedReason::kWrongType,
                  absl::StrCat("field '", ranks_key, "' must be an array of integers, got ",
                               Describe(*ranks)));
    }
    if (ranks->size() != list.responses.size()) {
      return Fail(
          MalformedReason::kRanksMismatch,
          absl::StrCat("field '", ranks_key, "' has ", ranks->size(), " entries but field '",
                       responses_key, "' has ", list.responses.size()));
    }
    for (size_t i = 0; i < ranks->size(); ++i) {
      const Json& item = (*ranks)[i];
      if (!item.is_number_integer()) {
        return Fail(MalformedReason::kWrongType,
                    absl::StrCat("field '", ranks_key, "' entry ", i, " must be an integer, got ",
                                 Describe(item)));
      }
      // nlohmann stores non-negative integers as unsigned.
      const bool in_range = item.is_number_unsigned()
                                ? item.get<uint64_t>() >= 1 && item.get<uint64_t>() <= INT_MAX
                                : item.get<int64_t>() >= 1 && item.get<int64_t>() <= INT_MAX;
      if (!in_range) {
        return Fail(
            MalformedReason::kInvalidRank,
            absl::StrCat("field '", ranks_key, "' entry ", i, " is ", json_input::EchoJson(item),
                         "; ranks are integers from 1 (best) to ", INT_MAX));
      }
      list.ranks.push_back(static_cast<int>(item.get<int64_t>()));
    }
    return list;
  }

  absl::StatusOr<SftExample> Sft() const {
    SftExample example;
    if (spec_.kind == FormatKind::kText) {
      RETURN_IF_ERROR(String("text", /*allow_empty=*/false, &example.response));
      return example;
    }
    RETURN_IF_ERROR(String("prompt", /*allow_empty=*/true, &example.prompt));
    RETURN_IF_ERROR(String("response", /*allow_empty=*/false, &example.response));
    return example;
  }

 private:
  const Json& row_;
  const FormatSpec& spec_;
  const SourcePosition& position_;
  MalformedReason* reason_;
};

template <typename T>
absl::StatusOr<Example> Wrap(absl::StatusOr<T> value, const SourcePosition& position) {
  if (!value.ok()) return value.status();
  return Example{std::move(value).value(), position};
}

}  // namespace

absl::StatusOr<Example> ParseLine(absl::string_view line, const FormatSpec& spec,
                                  const SourcePosition& position, MalformedReason* reason) {
  const Json none;
  RowReader fail_only(none, spec, position, reason);
  absl::StatusOr<Json> parsed = json_input::ParseJson(line, {.source = "row"});
  if (!parsed.ok()) {
    // The message is "row: not valid JSON: [json.exception.parse_error.101] parse error at line
    // 1, column 2: <what>" (or a reason of ParseJson's own, such as the nesting bound); the line
    // is always 1, so report "not valid JSON at column 2: <what>".
    absl::string_view message = parsed.status().message();
    absl::ConsumePrefix(&message, "row: not valid JSON: ");
    if (size_t end = message.find("] ");
        absl::StartsWith(message, "[json.exception") && end != absl::string_view::npos) {
      message.remove_prefix(end + 2);
    }
    std::string where = ":";
    if (absl::ConsumePrefix(&message, "parse error at line 1, column ")) {
      const size_t colon = message.find(':');
      where = absl::StrCat(" at column ", message.substr(0, colon), ":");
      message.remove_prefix(colon == absl::string_view::npos ? message.size() : colon + 1);
      absl::ConsumePrefix(&message, " ");
    }
    return fail_only.Fail(MalformedReason::kInvalidJson,
                          absl::StrCat("not valid JSON", where, " ", message));
  }
  const Json row = *std::move(parsed);
  if (!row.is_object()) {
    return fail_only.Fail(MalformedReason::kNotAnObject,
                          absl::StrCat("expected a JSON object, got ", Describe(row)));
  }
  RowReader reader(row, spec, position, reason);
  switch (spec.kind) {
    case FormatKind::kHhRlhf:
    case FormatKind::kRmStatic:
    case FormatKind::kStackExchangePaired:
    case FormatKind::kPreference:
      return Wrap(reader.Pair(), position);
    case FormatKind::kKto:
      return Wrap(reader.Unpaired(), position);
    case FormatKind::kRanked:
      return Wrap(reader.Ranked(), position);
    case FormatKind::kSft:
    case FormatKind::kText:
      return Wrap(reader.Sft(), position);
  }
  return absl::InternalError("unknown format kind");
}

}  // namespace plumb::data
