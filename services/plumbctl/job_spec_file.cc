#include "services/plumbctl/job_spec_file.h"

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::plumbctl {
namespace {

// Bounds on the YAML walk: nesting, and nodes visited (aliases can expand a small file into a
// huge tree).
constexpr int kMaxDepth = 64;
constexpr int64_t kMaxNodes = 1'000'000;

struct YamlToJson {
  std::string source;
  int64_t nodes = 0;

  absl::Status Scalar(const YAML::Node& node, std::string* out) {
    const std::string& text = node.Scalar();
    // A quoted scalar ("!" tag) is always a string; a plain one may be a number, bool or null.
    if (node.Tag() != "!") {
      static const std::regex kNumber(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
      if (text == "null" || text == "~" || text.empty()) {
        *out += "null";
        return absl::OkStatus();
      }
      if (text == "true" || text == "false") {
        *out += text;
        return absl::OkStatus();
      }
      if (std::regex_match(text, kNumber)) {
        *out += text;  // verbatim: a 64-bit seed keeps every digit
        return absl::OkStatus();
      }
    }
    *out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return absl::OkStatus();
  }

  absl::Status Convert(const YAML::Node& node, int depth, std::string* out) {
    if (depth > kMaxDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", node.Mark().line + 1, ": nested deeper than ", kMaxDepth));
    }
    if (++nodes > kMaxNodes) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": more than ", kMaxNodes, " values (after alias expansion)"));
    }
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        *out += "null";
        return absl::OkStatus();
      case YAML::NodeType::Scalar:
        return Scalar(node, out);
      case YAML::NodeType::Sequence: {
        *out += '[';
        bool first = true;
        for (const YAML::Node& item : node) {
          if (!first) *out += ',';
          first = false;
          RETURN_IF_ERROR(Convert(item, depth + 1, out));
        }
        *out += ']';
        return absl::OkStatus();
      }
      case YAML::NodeType::Map: {
        *out += '{';
        bool first = true;
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) {
            return absl::InvalidArgumentError(absl::StrCat(source, ":", entry.first.Mark().line + 1,
                                                           ": a key must be a plain name"));
          }
          if (!first) *out += ',';
          first = false;
          *out += nlohmann::json(entry.first.Scalar())
                      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
          *out += ':';
          RETURN_IF_ERROR(Convert(entry.second, depth + 1, out));
        }
        *out += '}';
        return absl::OkStatus();
      }
    }
    return absl::InternalError("unreachable YAML node type");
  }
};

// Strict JSON goes to protobuf's parser as written; anything else (YAML, including a YAML flow
// mapping such as "{name: x}") is converted first.
bool IsJson(const std::string& text) {
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) continue;
    return c == '{' && nlohmann::json::accept(text);
  }
  return false;
}

}  // namespace

absl::StatusOr<v1::JobSpec> ParseJobSpecFileText(const std::string& text,
                                                 const std::string& source) {
  if (text.size() > kMaxJobSpecFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": ", text.size(), " bytes; job specs are limited to ", kMaxJobSpecFileBytes));
  }
  std::string json;
  if (IsJson(text)) {
    json = text;
  } else {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
    }
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": a job spec is a mapping of JobSpec fields (name, kind, stages)"));
    }
    YamlToJson converter{.source = source};
    RETURN_IF_ERROR(converter.Convert(root, 0, &json));
  }
  v1::JobSpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &spec, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a valid JobSpec: ", std::string(status.message())));
  }
  return spec;
}

absl::StatusOr<v1::JobSpec> LoadJobSpecFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(Echo(path), ": cannot open the job spec"));
  std::string text;
  char buffer[1 << 14];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxJobSpecFileBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          Echo(path), ": larger than ", kMaxJobSpecFileBytes, " bytes; not a job spec"));
    }
  }
  return ParseJobSpecFileText(text, path);
}

}  // namespace plumb::plumbctl
