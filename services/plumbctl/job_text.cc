#include "services/plumbctl/job_text.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "services/plumbctl/proto_enum_text.h"

namespace plumb::plumbctl {
namespace {

bool IsUnset(const google::protobuf::Timestamp& time) {
  return time.seconds() == 0 && time.nanos() == 0;
}

}  // namespace

std::string OneLine(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

std::string StageRound(const std::string& stage_name, int round, int total) {
  if (stage_name.empty()) return "-";
  if (total > 0) return absl::StrCat(stage_name, " ", round + 1, "/", total);
  return absl::StrCat(stage_name, " ", round + 1);
}

}  // namespace

std::string FormatTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) widths[i] = headers[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  auto append_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - cell.size() + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  };
  append_row(headers);
  for (const auto& row : rows) append_row(row);
  return out;
}

absl::Time ToAbslTime(const google::protobuf::Timestamp& time) {
  return absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& time) {
  if (IsUnset(time)) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", ToAbslTime(time), absl::UTCTimeZone());
}

std::string FormatAge(const google::protobuf::Timestamp& since, absl::Time now) {
  if (IsUnset(since)) return "-";
  const int64_t seconds = std::max<int64_t>(0, absl::ToInt64Seconds(now - ToAbslTime(since)));
  if (seconds < 120) return absl::StrCat(seconds, "s");
  if (seconds < 2 * 3600) return absl::StrCat(seconds / 60, "m");
  if (seconds < 2 * 86400) return absl::StrCat(seconds / 3600, "h");
  return absl::StrCat(seconds / 86400, "d");
}

std::string FormatEta(absl::Duration remaining) {
  const int64_t seconds = std::max<int64_t>(0, absl::ToInt64Seconds(remaining));
  if (seconds >= 3600) {
    return absl::StrFormat("%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
  }
  if (seconds >= 60) return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  return absl::StrCat(seconds, "s");
}

std::string FormatNumber(double value) { return absl::StrFormat("%.4g", value); }

std::string FormatMetrics(const google::protobuf::Map<std::string, double>& metrics) {
  const std::map<std::string, double> sorted(metrics.begin(), metrics.end());
  std::vector<std::string> parts;
  for (const auto& [name, value] : sorted) {
    parts.push_back(absl::StrCat(OneLine(name), "=", FormatNumber(value)));
  }
  return absl::StrJoin(parts, " ");
}

int StageRounds(const v1::JobSpec& spec, int index) {
  if (index < 0 || index >= spec.stages_size()) return 0;
  return std::max(1, spec.stages(index).rounds());
}

std::string FormatJobTable(const std::vector<v1::Job>& jobs, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Job& job : jobs) {
    const v1::JobStatus& status = job.status();
    rows.push_back({OneLine(job.job_id()), OneLine(job.spec().name()),
                    EnumText(v1::JobKind_descriptor(), job.spec().kind()),
                    EnumText(v1::JobState_descriptor(), status.state()),
                    StageRound(OneLine(status.stage_name()), status.round(),
                               StageRounds(job.spec(), status.stage_index())),
                    absl::StrFormat("%.0f%%", 100.0 * status.progress()),
                    FormatAge(status.create_time(), now)});
  }
  return FormatTable({"JOB ID", "NAME", "KIND", "STATE", "STAGE/ROUND", "PROGRESS", "AGE"}, rows);
}

std::string FormatJobStatus(const v1::Job& job) {
  const v1::JobSpec& spec = job.spec();
  const v1::JobStatus& status = job.status();
  std::string out;
  auto line = [&](absl::string_view key, const std::string& value) {
    absl::StrAppend(&out, absl::StrFormat("%-12s %s\n", absl::StrCat(key, ":"), value));
  };
  line("job", OneLine(job.job_id()));
  line("name", OneLine(spec.name()));
  line("kind", EnumText(v1::JobKind_descriptor(), spec.kind()));
  line("state", absl::StrCat(EnumText(v1::JobState_descriptor(), status.state()),
                             status.cancel_requested() ? " (cancel requested)" : ""));
  if (!status.stage_name().empty()) {
    line("stage", absl::StrCat(OneLine(status.stage_name()), " (", status.stage_index() + 1, "/",
                               spec.stages_size(), ")"));
    if (spec.iterations() > 1) {
      line("iteration", absl::StrCat(status.iteration() + 1, "/", spec.iterations()));
    }
    const int rounds = StageRounds(spec, status.stage_index());
    line("round", rounds > 0 ? absl::StrCat(status.round() + 1, "/", rounds)
                             : absl::StrCat(status.round() + 1));
  }
  line("progress", absl::StrFormat("%.1f%%", 100.0 * status.progress()));
  line("created", FormatTimestamp(status.create_time()));
  line("started", FormatTimestamp(status.start_time()));
  line("ended", FormatTimestamp(status.end_time()));
  line("policy", absl::StrCat("version ", status.policy_version()));
  line("checkpoint",
       status.latest_checkpoint().empty() ? "-" : OneLine(status.latest_checkpoint()));
  line("retries", absl::StrCat(status.retries()));
  line("seed", absl::StrCat(status.seed()));
  if (!status.last_error().empty()) {
    line("last error", absl::StrCat(absl::StatusCodeToString(
                                        static_cast<absl::StatusCode>(status.last_error_code())),
                                    ": ", OneLine(status.last_error())));
  }
  if (!status.metrics().empty()) {
    out += "metrics:\n";
    const std::map<std::string, double> sorted(status.metrics().begin(), status.metrics().end());
    size_t width = 0;
    for (const auto& [name, value] : sorted) width = std::max(width, OneLine(name).size());
    for (const auto& [name, value] : sorted) {
      absl::StrAppend(&out, absl::StrFormat("  %-*s  %s\n", static_cast<int>(width), OneLine(name),
                                            FormatNumber(value)));
    }
  }
  return out;
}

std::string FormatEventLine(const v1::JobEvent& event) {
  std::string type = EnumText(v1::JobEventType_descriptor(), event.type());
  std::vector<std::string> parts = {absl::StrCat(event.sequence()), FormatTimestamp(event.time()),
                                    type};
  if (!event.stage_name().empty()) {
    parts.push_back(
        absl::StrCat(OneLine(event.stage_name()),
                     event.iteration() > 0 ? absl::StrCat("#", event.iteration() + 1) : "",
                     " round ", event.round() + 1));
  }
  if (event.type() == v1::JOB_EVENT_TYPE_STATE_CHANGED) {
    parts.push_back(EnumText(v1::JobState_descriptor(), event.state()));
  }
  if (event.error_code() != 0) {
    parts.push_back(absl::StatusCodeToString(static_cast<absl::StatusCode>(event.error_code())));
  }
  if (!event.worker_id().empty())
    parts.push_back(absl::StrCat("worker ", OneLine(event.worker_id())));
  if (!event.message().empty()) parts.push_back(OneLine(event.message()));
  if (!event.metrics().empty()) parts.push_back(FormatMetrics(event.metrics()));
  if (event.has_train_stats() && !event.train_stats().losses().empty()) {
    std::map<std::string, double> losses(event.train_stats().losses().begin(),
                                         event.train_stats().losses().end());
    std::vector<std::string> loss_parts;
    for (const auto& [name, value] : losses) {
      loss_parts.push_back(absl::StrCat("loss/", OneLine(name), "=", FormatNumber(value)));
    }
    parts.push_back(absl::StrJoin(loss_parts, " "));
  }
  return absl::StrJoin(parts, "  ");
}

std::string FormatWorkerTable(const std::vector<v1::WorkerInfo>& workers, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::WorkerInfo& worker : workers) {
    rows.push_back(
        {OneLine(worker.worker_id()), EnumText(v1::WorkerRole_descriptor(), worker.role()),
         OneLine(worker.endpoint()), EnumText(v1::WorkerState_descriptor(), worker.state()),
         absl::StrCat(worker.load().active_requests()), absl::StrCat(worker.load().queued()),
         absl::StrFormat("%.0f%%", 100.0 * worker.load().utilization()),
         absl::StrCat(worker.load().policy_version()),
         worker.job_id().empty() ? "-" : OneLine(worker.job_id()),
         FormatAge(worker.last_heartbeat_time(), now)});
  }
  return FormatTable({"WORKER ID", "ROLE", "ENDPOINT", "STATE", "ACTIVE", "QUEUED", "UTIL",
                      "VERSION", "JOB", "HEARTBEAT"},
                     rows);
}

}  // namespace plumb::plumbctl
