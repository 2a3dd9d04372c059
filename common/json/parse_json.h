// Parsing JSON that comes from outside the process: files a user or client hands to Plumb
// (config.json, safetensors headers, shard indexes, tokenizer.json, JSONL dataset rows).
//
// Every such input goes through ParseJson, which bounds what nlohmann::json would accept: the
// nesting depth (checked while parsing, before a deeper value is built, so no later recursive
// walk or dump() can exhaust the stack), NUL bytes, and optionally keys repeated in one object.
// It builds the document in one pass without nlohmann's parser callbacks, whose bookkeeping
// rescans an object's members each time a child closes (quadratic in the number of members).
// Values repeated in error messages go through EchoJson, which bounds their size.
//
// Thread safety: reentrant.
#ifndef PLUMB_COMMON_JSON_PARSE_JSON_H_
#define PLUMB_COMMON_JSON_PARSE_JSON_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status/echo.h"

namespace plumb::json_input {

// Arrays and objects nested deeper than this are refused. Real inputs nest at most ~6 levels
// (a tokenizer.json pre-tokenizer Sequence, a chat dataset row).
inline constexpr int kMaxJsonDepth = 64;

// A parse error message keeps at most this many bytes of nlohmann's text, which quotes the
// offending token (possibly a 100 MB string).
inline constexpr size_t kMaxParseErrorBytes = 256;

struct JsonParseOptions {
  absl::string_view source;  // starts every error message ("<source>: ..."), e.g. a file name
  absl::StatusCode error_code = absl::StatusCode::kInvalidArgument;
  int max_depth = kMaxJsonDepth;
  // Refuse a key repeated in one object (nlohmann keeps the last), which in a safetensors header
  // or a shard index would hide a tensor: "duplicate <top_level_key_noun> 'k'" at the top level,
  // "duplicate key 'k'" deeper.
  bool reject_duplicate_keys = false;
  absl::string_view top_level_key_noun = "key";
};

// Parses `text`. Errors, all with options.error_code:
//   "<source>: not valid JSON: <nlohmann's message, cut>"
//   "<source>: not valid JSON: NUL byte at offset N"
//   "<source>: not valid JSON: nested deeper than 64 arrays/objects"
//   "<source>: duplicate <noun> 'k'"
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text,
                                         const JsonParseOptions& options = {});

// The JSON type of `value` in words ("string", "integer", "array", ...), for error messages.
const char* JsonTypeName(const nlohmann::json& value);

// `value` rendered for an error message in about `max_bytes`: numbers, booleans and null as JSON,
// strings through plumb::Echo, arrays and objects as JSON-like text cut with "..." once the
// budget is spent (and below 8 levels). Never recursive beyond that, whatever the value's depth.
std::string EchoJson(const nlohmann::json& value, size_t max_bytes = kDefaultEchoBytes);

}  // namespace plumb::json_input

#endif  // PLUMB_COMMON_JSON_PARSE_JSON_H_
