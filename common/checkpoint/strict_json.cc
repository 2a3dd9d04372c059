#include "common/checkpoint/strict_json.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace plumb::checkpoint {

absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text, absl::string_view source,
                                               absl::StatusCode error_code,
                                               absl::string_view top_level_key_noun) {
  // One set of seen keys per open object; the callback sees every key before its value.
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  bool duplicate_at_top_level = false;
  const auto on_event = [&](int /*depth*/, nlohmann::json::parse_event_t event,
                            nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      open_objects.emplace_back();
    } else if (event == Event::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == Event::key && !open_objects.empty() && !duplicate.has_value()) {
      std::string key = parsed.get<std::string>();
      if (!open_objects.back().insert(key).second) {
        duplicate = std::move(key);
        duplicate_at_top_level = open_objects.size() == 1;
      }
    }
    return true;
  };

  // nlohmann::json stops at a NUL byte as if the input ended there; JSON never contains one.
  if (const size_t nul = text.find('\0'); nul != absl::string_view::npos) {
    return absl::Status(error_code,
                        absl::StrCat(source, ": not valid JSON: NUL byte at offset ", nul));
  }
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text.begin(), text.end(), on_event);
  } catch (const nlohmann::json::exception& e) {
    return absl::Status(error_code, absl::StrCat(source, ": not valid JSON: ", e.what()));
  }
  if (duplicate.has_value()) {
    return absl::Status(
        error_code,
        absl::StrCat(source, ": duplicate ", duplicate_at_top_level ? top_level_key_noun : "key",
                     " '", *duplicate, "'"));
  }
  return value;
}

const char* JsonTypeName(const nlohmann::json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number_float()) return "floating-point number";
  return value.type_name();
}

}  // namespace plumb::checkpoint
