#include "common/json/parse_json.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace plumb::json_input {
namespace {

using nlohmann::json;

// Renderings below this depth become "..."; keeps EchoJson's recursion bounded.
constexpr int kMaxEchoDepth = 8;

std::string CutParseMessage(absl::string_view message) {
  if (message.size() <= kMaxParseErrorBytes) return std::string(message);
  return absl::StrCat(message.substr(0, kMaxParseErrorBytes), "...(", message.size(), " bytes)");
}

// nlohmann's SAX interface, building the document as nlohmann's own DOM parser does, but
// refusing depth past the limit and (optionally) repeated keys as soon as they are seen.
class BoundedDomBuilder {
 public:
  explicit BoundedDomBuilder(const JsonParseOptions& options) : options_(options) {}

  bool null() { return Put(json(nullptr)); }
  bool boolean(bool value) { return Put(json(value)); }
  bool number_integer(json::number_integer_t value) { return Put(json(value)); }
  bool number_unsigned(json::number_unsigned_t value) { return Put(json(value)); }
  bool number_float(json::number_float_t value, const json::string_t& /*text*/) {
    return Put(json(value));
  }
  bool string(json::string_t& value) { return Put(json(std::move(value))); }
  bool binary(json::binary_t& value) { return Put(json::binary(std::move(value))); }

  bool start_object(std::size_t /*size*/) { return Open(json::value_t::object); }
  bool start_array(std::size_t /*size*/) { return Open(json::value_t::array); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(json::string_t& key) {
    auto& object = stack_.back()->get_ref<json::object_t&>();
    if (options_.reject_duplicate_keys && object.find(key) != object.end()) {
      return Fail(absl::StrCat("duplicate ",
                               stack_.size() == 1 ? options_.top_level_key_noun : "key", " ",
                               Echo(key, kDefaultEchoBytes, '\'')));
    }
    slot_ = &object[std::move(key)];  // a repeated key is overwritten: the last one wins
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const json::exception& error) {
    return Fail(absl::StrCat("not valid JSON: ", CutParseMessage(error.what())));
  }

  json TakeRoot() && { return std::move(root_); }
  const std::optional<std::string>& error() const { return error_; }

 private:
  bool Put(json&& value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      last_ = &root_;
    } else if (json& parent = *stack_.back(); parent.is_array()) {
      auto& array = parent.get_ref<json::array_t&>();
      array.push_back(std::move(value));
      last_ = &array.back();
    } else {
      *slot_ = std::move(value);
      last_ = slot_;
    }
    return true;
  }

  // Pointers on the stack stay valid: a container gets no new member while a child is open.
  bool Open(json::value_t type) {
    if (stack_.size() >= static_cast<size_t>(options_.max_depth)) {
      return Fail(absl::StrCat("not valid JSON: nested deeper than ", options_.max_depth,
                               " arrays/objects"));
    }
    Put(json(type));
    stack_.push_back(last_);
    return true;
  }

  bool Close() {
    stack_.pop_back();
    return true;
  }

  bool Fail(std::string message) {
    if (!error_.has_value()) error_ = std::move(message);
    return false;
  }

  const JsonParseOptions& options_;
  json root_;
  std::vector<json*> stack_;  // the open containers, outermost first
  json* slot_ = nullptr;      // the member the next value of the innermost object fills
  json* last_ = nullptr;      // the value Put stored last
  std::optional<std::string> error_;
};

void Render(const json& value, size_t max_bytes, int depth, std::string* out) {
  if (out->size() >= max_bytes || depth >= kMaxEchoDepth) {
    out->append("...");
    return;
  }
  switch (value.type()) {
    case json::value_t::string:
      out->append(Echo(value.get_ref<const std::string&>(), max_bytes - out->size()));
      return;
    case json::value_t::binary:
      absl::StrAppend(out, "<", value.get_binary().size(), " binary bytes>");
      return;
    case json::value_t::array:
    case json::value_t::object: {
      const bool is_object = value.is_object();
      out->push_back(is_object ? '{' : '[');
      size_t shown = 0;
      for (auto it = value.begin(); it != value.end(); ++it, ++shown) {
        if (shown > 0) out->push_back(',');
        if (out->size() >= max_bytes) {
          absl::StrAppend(out, "...(", value.size(), " items)");
          break;
        }
        if (is_object) {
          out->append(Echo(it.key(), max_bytes - out->size()));
          out->push_back(':');
        }
        Render(*it, max_bytes, depth + 1, out);
      }
      out->push_back(is_object ? '}' : ']');
      return;
    }
    default:  // null, boolean, numbers: short
      out->append(value.dump());
      return;
  }
}

}  // namespace

absl::StatusOr<json> ParseJson(absl::string_view text, const JsonParseOptions& options) {
  const auto error = [&](absl::string_view message) {
    return absl::Status(options.error_code, absl::StrCat(options.source, ": ", message));
  };
  // nlohmann::json would stop at a NUL byte as if the input ended there; JSON never holds one.
  if (const size_t nul = text.find('\0'); nul != absl::string_view::npos) {
    return error(absl::StrCat("not valid JSON: NUL byte at offset ", nul));
  }
  BoundedDomBuilder builder(options);
  bool parsed = false;
  try {
    parsed = json::sax_parse(text.begin(), text.end(), &builder);
  } catch (const json::exception& e) {
    return error(absl::StrCat("not valid JSON: ", CutParseMessage(e.what())));
  }
  if (!parsed) return error(builder.error().value_or("not valid JSON"));
  return std::move(builder).TakeRoot();
}

const char* JsonTypeName(const json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number_float()) return "floating-point number";
  return value.type_name();
}

std::string EchoJson(const json& value, size_t max_bytes) {
  std::string out;
  Render(value, max_bytes, 0, &out);
  return out;
}

}  // namespace plumb::json_input
