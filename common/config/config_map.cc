#include "common/config/config_map.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <istream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::config {
namespace {

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// A value from the file in single quotes, bounded and escaped.
std::string Quoted(absl::string_view value) {
  return Echo(std::string_view(value.data(), value.size()), kDefaultEchoBytes, '\'');
}

absl::string_view KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "empty";
    default:
      return "a scalar";
  }
}

// The whole stream, or an error past `max_bytes` (read in chunks, so a device stops too).
absl::StatusOr<std::string> ReadBounded(std::istream& in, absl::string_view path,
                                        size_t max_bytes) {
  std::string text;
  char chunk[1 << 16];
  while (in && text.size() <= max_bytes) {
    in.read(chunk, sizeof(chunk));
    text.append(chunk, static_cast<size_t>(in.gcount()));
  }
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than the limit of ", max_bytes, " bytes"));
  }
  return text;
}

}  // namespace

ConfigMap::ConfigMap(std::shared_ptr<const std::string> source, std::string path,
                     std::unique_ptr<YAML::Node> node)
    : source_(std::move(source)), path_(std::move(path)), node_(std::move(node)) {}
ConfigMap::ConfigMap(ConfigMap&&) noexcept = default;
ConfigMap& ConfigMap::operator=(ConfigMap&&) noexcept = default;
ConfigMap::~ConfigMap() = default;

absl::StatusOr<ConfigMap> ConfigMap::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open config file"));
  }
  ASSIGN_OR_RETURN(std::string text, ReadBounded(in, path, kMaxConfigFileBytes));
  return FromString(text, path);
}

absl::StatusOr<ConfigMap> ConfigMap::FromString(absl::string_view yaml, std::string source) {
  if (yaml.size() > kMaxConfigFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": ", yaml.size(), " bytes; config files are limited to ", kMaxConfigFileBytes));
  }
  auto node = std::make_unique<YAML::Node>();
  try {
    *node = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  if (node->IsNull()) {
    *node = YAML::Node(YAML::NodeType::Map);
  } else if (!node->IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the top level must be a mapping of keys to values, not ", KindOf(*node)));
  }
  return ConfigMap(std::make_shared<const std::string>(std::move(source)), "", std::move(node));
}

bool ConfigMap::Has(absl::string_view key) const { return (*node_)[std::string(key)].IsDefined(); }

std::string ConfigMap::FullKey(absl::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
}

int ConfigMap::LineOf(absl::string_view key) const {
  YAML::Node value = (*node_)[std::string(key)];
  const YAML::Mark mark = value.IsDefined() ? value.Mark() : node_->Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

absl::Status ConfigMap::Error(absl::string_view key, absl::string_view message) const {
  const int line = LineOf(key);
  return absl::InvalidArgumentError(absl::StrCat(*source_, line > 0 ? absl::StrCat(":", line) : "",
                                                 ": key '", FullKey(key), "': ", message));
}

absl::StatusOr<const YAML::Node*> ConfigMap::Scalar(absl::string_view key) {
  known_.insert(std::string(key));
  auto value = std::make_unique<YAML::Node>((*node_)[std::string(key)]);
  if (!value->IsDefined()) return nullptr;
  if (!value->IsScalar()) {
    return Error(key, absl::StrCat("expected a single value, got ", KindOf(*value),
                                   value->IsNull() ? " (write a value after the colon, or "
                                                     "remove the key to keep the default)"
                                                   : ""));
  }
  scratch_.push_back(std::move(value));
  return scratch_.back().get();
}

absl::Status ConfigMap::Read(absl::string_view key, std::string* out) {
  absl::StatusOr<const YAML::Node*> node = Scalar(key);
  if (!node.ok()) return node.status();
  if (*node == nullptr) return absl::OkStatus();
  *out = (*node)->Scalar();
  return absl::OkStatus();
}

absl::Status ConfigMap::Read(absl::string_view key, bool* out) {
  absl::StatusOr<const YAML::Node*> node = Scalar(key);
  if (!node.ok()) return node.status();
  if (*node == nullptr) return absl::OkStatus();
  const std::string text = absl::AsciiStrToLower((*node)->Scalar());
  if (text == "true") {
    *out = true;
  } else if (text == "false") {
    *out = false;
  } else {
    return Error(key,
                 absl::StrCat(Quoted((*node)->Scalar()), " is not a boolean; write true or false"));
  }
  return absl::OkStatus();
}

absl::Status ConfigMap::Read(absl::string_view key, int64_t* out, IntRange range) {
  absl::StatusOr<const YAML::Node*> node = Scalar(key);
  if (!node.ok()) return node.status();
  if (*node == nullptr) return absl::OkStatus();
  const std::string& text = (*node)->Scalar();
  const std::string expected =
      absl::StrCat("expected an integer in [", range.min, ", ", range.max, "]");
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return Error(key, absl::StrCat(Quoted(text), " is not an integer; ", expected));
  }
  if (value < range.min || value > range.max) {
    return Error(key, absl::StrCat(Quoted(text), " is out of range; ", expected));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status ConfigMap::Read(absl::string_view key, int* out, IntRange range) {
  range.min = std::max<int64_t>(range.min, INT32_MIN);
  range.max = std::min<int64_t>(range.max, INT32_MAX);
  int64_t value = *out;
  absl::Status status = Read(key, &value, range);
  if (status.ok()) *out = static_cast<int>(value);
  return status;
}

absl::Status ConfigMap::Read(absl::string_view key, double* out, DoubleRange range) {
  absl::StatusOr<const YAML::Node*> node = Scalar(key);
  if (!node.ok()) return node.status();
  if (*node == nullptr) return absl::OkStatus();
  const std::string& text = (*node)->Scalar();
  const std::string expected = absl::StrCat(
      "expected a number in ", range.min_exclusive ? "(" : "[", range.min, ", ", range.max, "]");
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) {
    return Error(key, absl::StrCat(Quoted(text), " is not a finite number; ", expected));
  }
  const bool below = range.min_exclusive ? value <= range.min : value < range.min;
  if (below || value > range.max) {
    return Error(key, absl::StrCat(Quoted(text), " is out of range; ", expected));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status ConfigMap::Read(absl::string_view key, std::vector<std::string>* out) {
  known_.insert(std::string(key));
  YAML::Node value = (*node_)[std::string(key)];
  if (!value.IsDefined()) return absl::OkStatus();
  if (!value.IsSequence()) {
    return Error(key, absl::StrCat("expected a list such as [a, b], got ", KindOf(value)));
  }
  std::vector<std::string> items;
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].IsScalar()) {
      return Error(key, absl::StrCat("item ", i, " is ", KindOf(value[i]), "; expected a value"));
    }
    items.push_back(value[i].Scalar());
  }
  *out = std::move(items);
  return absl::OkStatus();
}

absl::Status ConfigMap::Read(absl::string_view key, absl::Duration* out, absl::Duration min) {
  absl::StatusOr<const YAML::Node*> node = Scalar(key);
  if (!node.ok()) return node.status();
  if (*node == nullptr) return absl::OkStatus();
  const std::string& text = (*node)->Scalar();
  absl::Duration value;
  if (!absl::ParseDuration(text, &value) || value == absl::InfiniteDuration()) {
    return Error(key, absl::StrCat(Quoted(text),
                                   " is not a duration; write a number with a unit, such as "
                                   "'250ms', '30s' or '2m'"));
  }
  if (value < min) {
    return Error(key, absl::StrCat(Quoted(text), " is too short; expected at least ",
                                   absl::FormatDuration(min)));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status ConfigMap::ReadFileContents(absl::string_view key, std::string* contents) {
  std::string path;
  if (absl::Status status = Read(key, &path); !status.ok()) return status;
  if (path.empty()) return absl::OkStatus();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(key, absl::StrCat("cannot read file ", Quoted(path)));
  absl::StatusOr<std::string> text = ReadBounded(in, path, kMaxConfigFileBytes);
  if (!text.ok()) return Error(key, text.status().message());
  *contents = *std::move(text);
  return absl::OkStatus();
}

absl::Status ConfigMap::ReadChoice(absl::string_view key, std::string* out,
                                   const std::vector<std::string>& allowed) {
  std::string value = *out;
  if (absl::Status status = Read(key, &value); !status.ok()) return status;
  if (!Has(key)) return absl::OkStatus();
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    return Error(key, absl::StrCat(Quoted(value), " is not allowed; expected one of: ",
                                   absl::StrJoin(allowed, ", ")));
  }
  *out = value;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ConfigMap>> ConfigMap::Child(absl::string_view key) {
  known_.insert(std::string(key));
  YAML::Node value = (*node_)[std::string(key)];
  if (!value.IsDefined()) return std::optional<ConfigMap>();
  if (value.IsNull()) {
    return std::optional<ConfigMap>(
        ConfigMap(source_, FullKey(key), std::make_unique<YAML::Node>(YAML::NodeType::Map)));
  }
  if (!value.IsMap()) {
    return Error(key, absl::StrCat("expected a mapping of keys to values, got ", KindOf(value)));
  }
  return std::optional<ConfigMap>(
      ConfigMap(source_, FullKey(key), std::make_unique<YAML::Node>(value)));
}

absl::StatusOr<std::vector<ConfigMap>> ConfigMap::Children(absl::string_view key,
                                                           int64_t max_items) {
  known_.insert(std::string(key));
  std::vector<ConfigMap> children;
  YAML::Node value = (*node_)[std::string(key)];
  if (!value.IsDefined() || value.IsNull()) return children;
  if (!value.IsSequence()) {
    return Error(key, absl::StrCat("expected a list of mappings, got ", KindOf(value)));
  }
  if (static_cast<int64_t>(value.size()) > max_items) {
    return Error(key, absl::StrCat(value.size(), " items; at most ", max_items, " are allowed"));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    YAML::Node item = value[i];
    if (!item.IsMap()) {
      return Error(key, absl::StrCat("item ", i, ": expected a mapping of keys to values, got ",
                                     KindOf(item)));
    }
    children.push_back(ConfigMap(source_, absl::StrCat(FullKey(key), "[", i, "]"),
                                 std::make_unique<YAML::Node>(item)));
  }
  return children;
}

absl::Status ConfigMap::Finish() const {
  for (auto it = node_->begin(); it != node_->end(); ++it) {
    const std::string key = it->first.Scalar();
    if (known_.count(key) > 0) continue;
    std::string message = "unknown key";
    std::string nearest;
    size_t best = SIZE_MAX;
    // Edit distance costs key length x candidate length; a long key is no typo of a short one.
    constexpr size_t kMaxSuggestedKeyBytes = 64;
    for (const std::string& candidate : known_) {
      if (key.size() > kMaxSuggestedKeyBytes) break;
      const size_t distance = EditDistance(key, candidate);
      if (distance < best) {
        best = distance;
        nearest = candidate;
      }
    }
    if (!nearest.empty() && best <= std::max<size_t>(2, key.size() / 3)) {
      absl::StrAppend(&message, "; did you mean '", nearest, "'?");
    }
    if (known_.empty()) {
      absl::StrAppend(&message, "; this section takes no keys");
    } else {
      absl::StrAppend(&message, " (allowed here: ", absl::StrJoin(known_, ", "), ")");
    }
    const int line = it->first.Mark().line + 1;
    return absl::InvalidArgumentError(
        absl::StrCat(*source_, ":", line, ": key ", Quoted(FullKey(key)), ": ", message));
  }
  return absl::OkStatus();
}

}  // namespace plumb::config
