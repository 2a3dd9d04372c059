// The dataset line formats Plumb knows, their default JSON field names (which config can
// remap), the Llama 2 margin labels, and the reasons a line can be malformed.
//
// Thread safety: pure functions and plain values.
#ifndef PLUMB_COMMON_DATA_FORMAT_SPEC_H_
#define PLUMB_COMMON_DATA_FORMAT_SPEC_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace plumb::data {

enum class FormatKind {
  kHhRlhf,               // chosen/rejected transcripts sharing a prompt -> PreferencePair
  kRmStatic,             // prompt/chosen/rejected (Dahoas; `response` ignored) -> PreferencePair
  kStackExchangePaired,  // question/response_j/response_k (j preferred) -> PreferencePair
  kPreference,           // prompt/chosen/rejected -> PreferencePair
  kKto,                  // prompt/completion/label (JSON boolean) -> UnpairedExample
  kRanked,               // prompt/responses/ranks -> RankedList
  kSft,                  // prompt/response -> SftExample
  kText,                 // text -> SftExample with an empty prompt
};

// The config names: hh_rlhf, rm_static, stack_exchange_paired, preference, kto, ranked, sft, text.
absl::string_view FormatName(FormatKind kind);
std::optional<FormatKind> FormatKindFromName(absl::string_view name);
const std::vector<std::string>& AllFormatNames();
// True for the formats that yield PreferencePair (and so read the margin and preference
// probability fields).
bool IsPairFormat(FormatKind kind);

// Llama 2 "margin small" values (Touvron et al. 2023, Table 28): 1, 2/3, 1/3, 0.
std::map<std::string, double> DefaultMarginLabels();

struct FormatSpec {
  FormatKind kind = FormatKind::kPreference;
  // Logical field name -> JSON key, one entry for every logical field of `kind` (pair formats
  // also have the optional `margin_label`, `margin` and `preference_probability`).
  std::map<std::string, std::string> fields;
  // The allowed margin labels and their numeric margins (pair formats only).
  std::map<std::string, double> margins;
};

// The spec with the format's default JSON keys and the default margin labels.
FormatSpec DefaultFormatSpec(FormatKind kind);

// Why a line was malformed; the names ("invalid_json", ...) key the per-reason skip counts.
enum class MalformedReason {
  kInvalidJson,
  kNotAnObject,
  kMissingField,
  kWrongType,
  kEmptyField,
  kUnknownMarginLabel,
  kIdenticalPair,
  kNoSharedPrompt,
  kTooFewResponses,
  kRanksMismatch,
  kInvalidRank,
  kInvalidProbability,  // a preference probability that is not finite or not in [0, 1]
};
absl::string_view MalformedReasonName(MalformedReason reason);

}  // namespace plumb::data

#endif  // PLUMB_COMMON_DATA_FORMAT_SPEC_H_
