// How one JSONL line becomes an Example under a FormatSpec, with the exact message for every
// way a line can be malformed: INVALID_ARGUMENT "FILE:LINE: REASON".
//
// Thread safety: a pure function.
#ifndef PLUMB_COMMON_DATA_LINE_FORMAT_H_
#define PLUMB_COMMON_DATA_LINE_FORMAT_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/data/example.h"
#include "common/data/format_spec.h"

namespace plumb::data {

// Parses one line (without its newline; a trailing '\r' is JSON whitespace). Unknown JSON keys
// are ignored; null in an optional field means absent. Required strings must be non-empty
// (an SFT prompt may be empty). Pair formats refuse identical chosen and rejected. hh_rlhf:
// prompt = the common prefix of the transcripts up to and including the last "\n\nAssistant:"
// inside it; the completions are the rest (leading space kept). kto: `label` must be a JSON
// boolean (0/1 are malformed). On failure sets *reason when given.
absl::StatusOr<Example> ParseLine(absl::string_view line, const FormatSpec& spec,
                                  const SourcePosition& position,
                                  MalformedReason* reason = nullptr);

}  // namespace plumb::data

#endif  // PLUMB_COMMON_DATA_LINE_FORMAT_H_
