#include "services/plumb-coordinator/coordinator_options.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status/status_macros.h"
#include "services/plumb-coordinator/state_database.h"

namespace plumb::coordinator {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

}  // namespace

absl::StatusOr<std::map<std::string, UserInfo>> ParseUsersFile(const std::string& path,
                                                               const std::string& text) {
  std::map<std::string, UserInfo> users;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    const std::string where = absl::StrCat(path, ":", line_number, ": ");
    if (fields.size() < 2 || fields.size() > 3 || (fields.size() == 3 && fields[2] != "admin")) {
      return absl::InvalidArgumentError(absl::StrCat(where, "expected \"<token> <user> [admin]\""));
    }
    if (fields[0].size() < 16) {
      return absl::InvalidArgumentError(absl::StrCat(where, "a token needs at least 16 bytes"));
    }
    if (users.contains(fields[0])) {
      return absl::InvalidArgumentError(absl::StrCat(where, "this token is listed twice"));
    }
    users[fields[0]] = UserInfo{.name = fields[1], .admin = fields.size() == 3};
  }
  return users;
}

absl::Status ParseCoordinatorSection(config::ConfigMap& root, const std::string& base_dir,
                                     CoordinatorConfig* o) {
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> section, root.Child("coordinator"));
  if (!section.has_value()) {
    return root.Error("coordinator", "is required (coordinator.state_path: the SQLite state)");
  }
  RETURN_IF_ERROR(section->Read("state_path", &o->state_path));
  if (o->state_path.empty()) {
    return section->Error("state_path", "is required: where the coordinator keeps its jobs");
  }
  o->state_path = Resolve(base_dir, o->state_path);
  RETURN_IF_ERROR(section->Read("data_roots", &o->data_roots));
  for (std::string& r : o->data_roots) r = Resolve(base_dir, r);
  RETURN_IF_ERROR(section->Read("checkpoint_roots", &o->checkpoint_roots));
  if (o->checkpoint_roots.empty()) o->checkpoint_roots = {"."};
  RETURN_IF_ERROR(section->Read("job_root", &o->job_root));
  RETURN_IF_ERROR(
      section->Read("max_queued_jobs", &o->max_queued_jobs, config::IntRange{1, 1000000}));
  RETURN_IF_ERROR(section->Read("heartbeat_interval", &o->heartbeat_interval, absl::Seconds(1)));
  RETURN_IF_ERROR(section->Read("lease_duration", &o->lease_duration, absl::Seconds(1)));
  RETURN_IF_ERROR(section->Read("probe_interval", &o->probe_interval, absl::Milliseconds(100)));
  if (o->lease_duration < o->heartbeat_interval) {
    return section->Error("lease_duration", "must be at least heartbeat_interval");
  }
  if (section->Has("users_file")) {
    std::string text;
    RETURN_IF_ERROR(section->ReadFileContents("users_file", &text));
    ASSIGN_OR_RETURN(o->users, ParseUsersFile("coordinator.users_file", text));
    if (o->users.empty()) return section->Error("users_file", "lists no user");
  }
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> workers, section->Child("workers"));
  if (workers.has_value()) {
    RETURN_IF_ERROR(workers->Read("generators", &o->generators));
    RETURN_IF_ERROR(workers->Read("scorers", &o->scorers));
    RETURN_IF_ERROR(workers->Read("references", &o->references));
    RETURN_IF_ERROR(workers->Read("learners", &o->learners));
    ASSIGN_OR_RETURN(std::optional<config::ConfigMap> client, workers->Child("client"));
    o->client.default_deadline = absl::Seconds(600);
    if (client.has_value()) {
      RETURN_IF_ERROR(rpc::ParseChannelOptions(*client, &o->client));
    }
    RETURN_IF_ERROR(workers->Finish());
  }
  return section->Finish();
}

}  // namespace plumb::coordinator
