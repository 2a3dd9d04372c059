// Spec text -> JobSpec: yaml-cpp's event parser drives a JSON writer (no node tree is built, so
// the depth bound and the refusal of anchors and aliases hold before any tree exists), then
// protobuf's JSON parser fills the message. common/config's ConfigMap reads YAML into structs
// key by key; a proto's fields are protobuf's JSON parser's business, hence this converter.
#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/rpc/message_checks.h"
#include "common/status/echo.h"
#include "services/plumb-coordinator/job_spec_reader.h"

namespace plumb::coordinator {
namespace {

// Thrown out of the event handler to stop yaml-cpp's parser at the first refusal.
struct Refusal {
  std::string message;
};

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (const char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", byte);
      out->append(escaped);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?
bool IsJsonNumber(absl::string_view v) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < v.size() && IsDigit(v[i])) ++i;
    return i > start;
  };
  if (i < v.size() && v[i] == '-') ++i;
  if (i < v.size() && v[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < v.size() && v[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == v.size();
}

// A plain (unquoted) YAML scalar as JSON, by YAML 1.2's core schema: null, booleans, and numbers
// JSON can write are literals; .inf and .nan are refused; anything else is a string.
std::string PlainScalarJson(const std::string& v) {
  if (v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL") return "null";
  if (v == "true" || v == "True" || v == "TRUE") return "true";
  if (v == "false" || v == "False" || v == "FALSE") return "false";
  absl::string_view unsigned_v = v;
  if (!unsigned_v.empty() && (unsigned_v[0] == '+' || unsigned_v[0] == '-')) {
    unsigned_v.remove_prefix(1);
  }
  if (unsigned_v == ".inf" || unsigned_v == ".Inf" || unsigned_v == ".INF" || v == ".nan" ||
      v == ".NaN" || v == ".NAN") {
    throw Refusal{absl::StrCat(Echo(v), " is not a finite number")};
  }
  const absl::string_view number = v[0] == '+' ? absl::string_view(v).substr(1) : v;
  if (IsJsonNumber(number)) return std::string(number);
  std::string out;
  AppendJsonString(v, &out);
  return out;
}

class JsonWriter : public YAML::EventHandler {
 public:
  std::string& json() { return json_; }
  // The path of the key being read, e.g. "stages[1].training", for errors.
  std::string Path() const {
    std::string path;
    for (const Frame& f : stack_) {
      if (f.is_map) {
        if (f.key.empty()) continue;
        if (!path.empty()) path.push_back('.');
        path += f.key;
      } else if (f.count > 0) {
        absl::StrAppend(&path, "[", f.count - 1, "]");
      }
    }
    return path;
  }
  bool saw_document() const { return documents_ > 0; }

  void OnDocumentStart(const YAML::Mark&) override {
    if (++documents_ > 1) throw Refusal{"holds more than one YAML document"};
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    CheckAnchor(anchor);
    if (stack_.empty()) throw Refusal{"the spec must be a mapping of the JobSpec's fields"};
    Value(mark, "null");
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {
    throw Refusal{"YAML aliases (*name) are not allowed in a job spec"};
  }
  void OnAnchor(const YAML::Mark&, const std::string&) override {
    throw Refusal{"YAML anchors (&name) are not allowed in a job spec"};
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    CheckAnchor(anchor);
    if (stack_.empty()) throw Refusal{"the spec must be a mapping of the JobSpec's fields"};
    Frame& top = stack_.back();
    if (top.is_map && top.expect_key) {
      if (!top.keys.insert(value).second) {
        throw Refusal{absl::StrCat("key ", Echo(value), " appears twice")};
      }
      if (top.count++ > 0) json_.push_back(',');
      AppendJsonString(value, &json_);
      json_.push_back(':');
      top.key = value;
      top.expect_key = false;
      return;
    }
    std::string literal;
    if (tag == "?") {
      literal = PlainScalarJson(value);
    } else if (tag == "!" || tag == "tag:yaml.org,2002:str") {
      AppendJsonString(value, &literal);
    } else {
      throw Refusal{absl::StrCat("YAML tag ", Echo(tag), " is not allowed in a job spec")};
    }
    Value(mark, literal);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, tag, anchor, /*is_map=*/false);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, tag, anchor, /*is_map=*/true);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    bool is_map = false;
    bool expect_key = true;
    int count = 0;  // keys or items so far
    std::string key;
    std::set<std::string> keys;
  };

  static void CheckAnchor(YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) throw Refusal{"YAML anchors (&name) are not allowed"};
  }
  static void CheckTag(const std::string& tag) {
    if (!tag.empty() && tag != "?" && tag != "!" && tag != "tag:yaml.org,2002:map" &&
        tag != "tag:yaml.org,2002:seq") {
      throw Refusal{absl::StrCat("YAML tag ", Echo(tag), " is not allowed in a job spec")};
    }
  }

  // Before a value: a separator in a sequence; in a mapping the key was written already.
  void BeforeValue() {
    if (stack_.empty()) return;
    Frame& top = stack_.back();
    if (top.is_map) {
      if (top.expect_key) throw Refusal{"mapping keys must be plain strings"};
    } else if (top.count++ > 0) {
      json_.push_back(',');
    }
  }
  void AfterValue() {
    if (!stack_.empty() && stack_.back().is_map) stack_.back().expect_key = true;
  }
  void Value(const YAML::Mark&, const std::string& literal) {
    BeforeValue();
    json_ += literal;
    AfterValue();
  }
  void Open(const YAML::Mark&, const std::string& tag, YAML::anchor_t anchor, bool is_map) {
    CheckAnchor(anchor);
    CheckTag(tag);
    if (stack_.empty() && !is_map) {
      throw Refusal{"the spec must be a mapping of the JobSpec's fields"};
    }
    if (static_cast<int>(stack_.size()) >= kMaxSpecDepth) {
      throw Refusal{absl::StrCat("nested deeper than ", kMaxSpecDepth, " levels")};
    }
    BeforeValue();
    json_.push_back(is_map ? '{' : '[');
    Frame frame;
    frame.is_map = is_map;
    stack_.push_back(std::move(frame));
  }
  void Close() {
    const bool is_map = stack_.back().is_map;
    stack_.pop_back();
    json_.push_back(is_map ? '}' : ']');
    AfterValue();
  }

  std::string json_;
  std::vector<Frame> stack_;
  int documents_ = 0;
};

// protobuf's JSON parser writes "(stages[0]) trainig: Cannot find field." or "(kind): invalid
// value ..."; rewritten as this file's paths: "stages[0].trainig: Cannot find field.".
std::string PathFirst(std::string message) {
  const size_t close = message.find(')');
  if (message.empty() || message[0] != '(' || close == std::string::npos) return message;
  const std::string path = message.substr(1, close - 1);
  const std::string rest = message.substr(close + 1);
  if (absl::StartsWith(rest, ":")) return path + rest;
  if (absl::StartsWith(rest, " "))
    return path.empty() ? rest.substr(1) : path + "." + rest.substr(1);
  return message;
}

absl::Status TextError(absl::string_view source, const std::string& where,
                       const std::string& message) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, where.empty() ? "" : absl::StrCat(": ", where), ": ", message));
}

}  // namespace

absl::StatusOr<v1::JobSpec> ParseJobSpecText(absl::string_view text,
                                             absl::string_view source_name) {
  if (text.size() > kMaxSpecTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_name, ": ", text.size(), " bytes; a job spec is limited to ", kMaxSpecTextBytes));
  }
  JsonWriter writer;
  {
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    try {
      while (parser.HandleNextDocument(writer)) {
      }
    } catch (const Refusal& refusal) {
      return TextError(source_name, writer.Path(), refusal.message);
    } catch (const YAML::Exception& e) {
      return TextError(
          source_name, "",
          absl::StrCat("line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
    }
  }
  if (!writer.saw_document() || writer.json().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": the job spec is empty"));
  }
  v1::JobSpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  options.case_insensitive_enum_parsing = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(writer.json(), &spec, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": ",
                     PathFirst(std::string(parsed.message().data(), parsed.message().size()))));
  }
  if (absl::Status values = rpc::CheckMessageValues(spec, ""); !values.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", values.message()));
  }
  return spec;
}

}  // namespace plumb::coordinator
