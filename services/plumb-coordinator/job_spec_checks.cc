#include "services/plumb-coordinator/job_spec_checks.h"

#include <google/protobuf/duration.pb.h>

#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/status/echo.h"

namespace plumb::coordinator::spec_internal {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxPathBytes = 4096;
constexpr size_t kMaxBuiltinNameBytes = 64;

// Lexically normal, without a trailing separator ("/a/b/" -> "/a/b").
fs::path Normal(const fs::path& p) {
  fs::path n = p.lexically_normal();
  if (!n.has_filename() && n.has_parent_path() && n != n.root_path()) n = n.parent_path();
  return n;
}

bool Within(const fs::path& p, const fs::path& root) {
  const fs::path rel = p.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

bool WithinAny(const fs::path& p, const std::vector<fs::path>& roots) {
  for (const fs::path& root : roots) {
    if (Within(p, root)) return true;
  }
  return false;
}

std::vector<fs::path> NormalRoots(const std::vector<std::string>& roots) {
  std::vector<fs::path> out;
  for (const std::string& root : roots) {
    if (!root.empty()) out.push_back(Normal(fs::absolute(root)));
  }
  return out;
}

// The path as named: relative ones under the first root. Adds an error and returns nullopt for
// empty, oversized or NUL-holding values, or when there are no roots.
std::optional<fs::path> Anchor(const std::string& field, const std::string& value,
                               const std::vector<fs::path>& roots, const char* what,
                               SpecErrors* errors) {
  if (value.size() > kMaxPathBytes) {
    errors->Invalid(field, absl::StrCat(value.size(), " bytes; a path is at most ", kMaxPathBytes));
    return std::nullopt;
  }
  if (value.find('\0') != std::string::npos) {
    errors->Invalid(field, "holds a NUL byte");
    return std::nullopt;
  }
  if (roots.empty()) {
    errors->Invalid(field, absl::StrCat(Echo(value), ": the coordinator has no ", what,
                                        " roots configured, so no path is allowed"));
    return std::nullopt;
  }
  const fs::path p(value);
  return Normal(p.is_absolute() ? p : roots.front() / p);
}

constexpr int64_t kMaxDurationSeconds = int64_t{365} * 24 * 3600;

}  // namespace

std::string At(const std::string& prefix, const std::string& field) {
  return absl::StrCat(prefix, ".", field);
}
std::string Index(const std::string& prefix, int i) { return absl::StrCat(prefix, "[", i, "]"); }

namespace {

// [A-Za-z0-9._-], 1..max bytes.
bool IsName(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (const char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void CheckName(const std::string& path, const std::string& name, size_t max, SpecErrors* e) {
  if (!IsName(name, max)) {
    e->Invalid(path, absl::StrCat(Echo(name), ": must be 1..", max, " bytes of [A-Za-z0-9._-]"));
  }
}

void CheckBytes(const std::string& path, const std::string& s, size_t max, SpecErrors* e) {
  if (s.size() > max) e->Invalid(path, absl::StrCat(s.size(), " bytes; at most ", max));
}

// A non-negative duration of at most a year; `unset` for 0 (or absent).
absl::Duration DurationOf(const std::string& path, const google::protobuf::Duration& d,
                          absl::Duration unset, SpecErrors* e) {
  if (d.seconds() < 0 || d.nanos() < 0) {
    e->Invalid(path, "must not be negative");
    return unset;
  }
  if (d.seconds() > kMaxDurationSeconds) {
    e->Invalid(path, absl::StrCat(d.seconds(), "s; at most ", kMaxDurationSeconds, "s"));
    return unset;
  }
  if (d.seconds() == 0 && d.nanos() == 0) return unset;
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

void SpecErrors::Add(absl::StatusCode code, const std::string& path, const std::string& message) {
  errors_.emplace_back(code, absl::StrCat(path, ": ", message));
}

void SpecErrors::AddStatus(const absl::Status& status) {
  if (!status.ok()) errors_.emplace_back(status.code(), std::string(status.message()));
}

bool SpecErrors::InRange(const std::string& path, int64_t value, int64_t min, int64_t max) {
  if (value >= min && value <= max) return true;
  Invalid(path, absl::StrCat("must be in [", min, ", ", max, "], got ", value));
  return false;
}

absl::Status SpecErrors::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  absl::StatusCode code = errors_.front().first;
  std::vector<std::string> messages;
  for (const auto& [error_code, message] : errors_) {
    if (error_code == absl::StatusCode::kInvalidArgument) code = error_code;
    if (messages.size() < static_cast<size_t>(kMaxSpecErrors)) messages.push_back(message);
  }
  std::string joined = absl::StrJoin(messages, "; ");
  if (errors_.size() > messages.size()) {
    absl::StrAppend(&joined, "; and ", errors_.size() - messages.size(), " more errors");
  }
  return absl::Status(code, joined);
}

PathRules::PathRules(const SpecPolicy& policy)
    : data_roots_(NormalRoots(policy.data_roots)),
      checkpoint_roots_(NormalRoots(policy.checkpoint_roots)) {
  for (const fs::path& root : data_roots_) {
    std::error_code ec;
    const fs::path real = fs::weakly_canonical(root, ec);
    data_roots_real_.push_back(ec ? root : Normal(real));
  }
  for (const fs::path& root : checkpoint_roots_) {
    std::error_code ec;
    const fs::path real = fs::weakly_canonical(root, ec);
    checkpoint_roots_real_.push_back(ec ? root : Normal(real));
  }
}

std::string PathRules::Dataset(const std::string& field, const std::string& value,
                               SpecErrors* errors) const {
  if (value.empty()) {
    errors->Invalid(field, "is required");
    return "";
  }
  if (absl::StartsWith(value, "builtin:")) {
    const std::string name = value.substr(8);
    bool ok = !name.empty() && name.size() <= kMaxBuiltinNameBytes;
    for (const char c : name) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
    }
    if (!ok) {
      errors->Invalid(field, absl::StrCat(Echo(value), ": a builtin corpus is named by 1..",
                                          kMaxBuiltinNameBytes, " of [a-z0-9_-]"));
      return "";
    }
    return value;
  }
  const std::optional<fs::path> path = Anchor(field, value, data_roots_, "data", errors);
  if (!path) return "";
  if (!WithinAny(*path, data_roots_)) {
    errors->Invalid(field, absl::StrCat(Echo(value), " is outside the coordinator's data roots"));
    return "";
  }
  std::error_code ec;
  if (!fs::exists(*path, ec)) {
    errors->Add(absl::StatusCode::kNotFound, field,
                absl::StrCat(Echo(value), " does not exist (", Echo(path->string()), ")"));
    return "";
  }
  const fs::path real = fs::canonical(*path, ec);
  if (ec) {
    errors->Invalid(field, absl::StrCat(Echo(value), " cannot be resolved: ", ec.message()));
    return "";
  }
  if (!WithinAny(real, data_roots_real_)) {
    errors->Invalid(field, absl::StrCat(Echo(value),
                                        " resolves (through a symlink) outside the coordinator's "
                                        "data roots"));
    return "";
  }
  return real.string();
}

std::string PathRules::Checkpoint(const std::string& field, const std::string& value,
                                  SpecErrors* errors) const {
  if (value.empty()) return "";
  const std::optional<fs::path> path =
      Anchor(field, value, checkpoint_roots_, "checkpoint", errors);
  if (!path) return "";
  if (!WithinAny(*path, checkpoint_roots_)) {
    errors->Invalid(field,
                    absl::StrCat(Echo(value), " is outside the coordinator's checkpoint roots"));
    return "";
  }
  return path->string();
}

std::string PathRules::ReadableCheckpoint(const std::string& field, const std::string& value,
                                          SpecErrors* errors) const {
  const std::string path = Checkpoint(field, value, errors);
  if (path.empty()) return "";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    errors->Add(absl::StatusCode::kNotFound, field,
                absl::StrCat(Echo(value), " does not exist (", Echo(path), ")"));
    return "";
  }
  const fs::path real = fs::canonical(path, ec);
  if (ec || !WithinAny(real, checkpoint_roots_real_)) {
    errors->Invalid(field, absl::StrCat(Echo(value),
                                        " resolves (through a symlink) outside the coordinator's "
                                        "checkpoint roots"));
    return "";
  }
  return real.string();
}

}  // namespace plumb::coordinator::spec_internal
