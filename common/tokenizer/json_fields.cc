#include "common/tokenizer/json_fields.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "common/json/parse_json.h"
#include "common/status/echo.h"

namespace plumb::tokenizer::json_fields {

absl::Status FieldError(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

absl::Status Unsupported(absl::string_view field, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      field, " ", Echo(std::string_view(value.data(), value.size())), " is not supported", why));
}

std::string Describe(const Json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "a list";
  constexpr size_t kMaxLength = 60;
  if (value.is_string()) return Echo(value.get_ref<const std::string&>(), kMaxLength);
  return value.dump();  // a number, boolean or null: short
}

std::string Join(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

absl::StatusOr<Json> ParseJson(absl::string_view text, absl::string_view source) {
  return json_input::ParseJson(text, {.source = source});
}

const Json* Find(const Json& object, absl::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<bool> GetBool(const Json& object, absl::string_view key, absl::string_view path,
                             bool default_value) {
  const Json* value = Find(object, key);
  if (value == nullptr) return default_value;
  if (!value->is_boolean()) {
    return FieldError(Join(path, key),
                      absl::StrCat("expected true or false, got ", Describe(*value)));
  }
  return value->get<bool>();
}

absl::StatusOr<std::optional<std::string>> GetString(const Json& object, absl::string_view key,
                                                     absl::string_view path) {
  const Json* value = Find(object, key);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) {
    return FieldError(Join(path, key), absl::StrCat("expected a string, got ", Describe(*value)));
  }
  return std::optional<std::string>(value->get<std::string>());
}

absl::StatusOr<std::string> GetRequiredString(const Json& object, absl::string_view key,
                                              absl::string_view path) {
  absl::StatusOr<std::optional<std::string>> value = GetString(object, key, path);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return FieldError(Join(path, key), "missing");
  return std::move(**value);
}

absl::StatusOr<int32_t> ToInt32(const Json& value, absl::string_view field) {
  if (value.is_number_unsigned()) {
    const auto number = value.get<uint64_t>();
    if (number <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      return static_cast<int32_t>(number);
    }
  } else if (value.is_number_integer()) {
    const auto number = value.get<int64_t>();
    if (number >= std::numeric_limits<int32_t>::min() &&
        number <= std::numeric_limits<int32_t>::max()) {
      return static_cast<int32_t>(number);
    }
  }
  return FieldError(field, absl::StrCat("expected a 32-bit integer, got ", Describe(value)));
}

}  // namespace plumb::tokenizer::json_fields
