// Typed reads of JSON fields with errors that name the field ("model.merges[3]: expected ...").
// Internal to the tokenizer loaders.
//
// Thread safety: pure functions.
#ifndef PLUMB_COMMON_TOKENIZER_JSON_FIELDS_H_
#define PLUMB_COMMON_TOKENIZER_JSON_FIELDS_H_

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::tokenizer::json_fields {

using Json = nlohmann::json;

// InvalidArgument "field: message".
absl::Status FieldError(absl::string_view field, absl::string_view message);

// InvalidArgument `field "value" is not supported<why>`, e.g. why = "; Plumb reads BPE only".
absl::Status Unsupported(absl::string_view field, absl::string_view value, absl::string_view why);

// A short rendering of a value for errors: 42, "abc" (long strings cut), an object, a list.
std::string Describe(const Json& value);

// "parent.key", or "key" when parent is empty.
std::string Join(absl::string_view parent, absl::string_view key);

// Parses JSON text with json_input::ParseJson (nesting at most json_input::kMaxJsonDepth); an
// error names `source` and the parser's position.
absl::StatusOr<Json> ParseJson(absl::string_view text, absl::string_view source);

// The value at key, or nullptr when the key is absent or null.
const Json* Find(const Json& object, absl::string_view key);

// Field readers: absent (or null) keys give the default / nullopt; a value of the wrong type is
// an error naming Join(path, key).
absl::StatusOr<bool> GetBool(const Json& object, absl::string_view key, absl::string_view path,
                             bool default_value);
absl::StatusOr<std::optional<std::string>> GetString(const Json& object, absl::string_view key,
                                                     absl::string_view path);
absl::StatusOr<std::string> GetRequiredString(const Json& object, absl::string_view key,
                                              absl::string_view path);
absl::StatusOr<int32_t> ToInt32(const Json& value, absl::string_view field);

}  // namespace plumb::tokenizer::json_fields

#endif  // PLUMB_COMMON_TOKENIZER_JSON_FIELDS_H_
