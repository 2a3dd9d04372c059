// JSON parsing for checkpoint files that refuses what nlohmann::json would silently accept: a key
// repeated in one object (nlohmann keeps the last), which in a safetensors header or a shard index
// would hide a tensor. The error message names `source` (a file name) and the repeated key.
//
// Thread safety: reentrant.
#ifndef PLUMB_COMMON_CHECKPOINT_STRICT_JSON_H_
#define PLUMB_COMMON_CHECKPOINT_STRICT_JSON_H_

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::checkpoint {

// Parses `text`; on invalid JSON or a duplicate key returns a Status with `error_code` whose
// message starts with `source`. Duplicate keys in the top-level object are reported as
// "duplicate <top_level_key_noun> 'key'" (e.g. "duplicate tensor name 'w'"), nested ones as
// "duplicate key 'k'".
absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text, absl::string_view source,
                                               absl::StatusCode error_code,
                                               absl::string_view top_level_key_noun = "key");

// The JSON type of `value` in words ("string", "array", ...), for error messages.
const char* JsonTypeName(const nlohmann::json& value);

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_STRICT_JSON_H_
