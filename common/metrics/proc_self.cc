#include "common/metrics/proc_self.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status/status_macros.h"

namespace plumb::metrics {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const char* path) {
  std::ifstream file(path);
  if (!file) {
    return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

absl::StatusOr<double> CountOpenFds() {
  std::error_code error;
  double count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot list /proc/self/fd: ", error.message()));
  }
  return count;
}

}  // namespace

absl::StatusOr<ProcStat> ParseProcStat(absl::string_view contents) {
  const size_t close_paren = contents.rfind(')');
  if (close_paren == absl::string_view::npos) {
    return absl::InvalidArgumentError("/proc/self/stat: no ')' after the command name");
  }
  // fields[0] is field 3 of proc(5) (the state), so field N is fields[N - 3].
  const std::vector<absl::string_view> fields =
      absl::StrSplit(contents.substr(close_paren + 1), ' ', absl::SkipWhitespace());
  constexpr size_t kFirstField = 3;
  auto field = [&](size_t number, uint64_t* out) -> absl::Status {
    const size_t index = number - kFirstField;
    if (index >= fields.size() || !absl::SimpleAtoi(fields[index], out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("/proc/self/stat: field ", number, " is missing or not a number"));
    }
    return absl::OkStatus();
  };
  ProcStat stat;
  RETURN_IF_ERROR(field(14, &stat.user_ticks));
  RETURN_IF_ERROR(field(15, &stat.system_ticks));
  RETURN_IF_ERROR(field(22, &stat.start_ticks));
  RETURN_IF_ERROR(field(23, &stat.virtual_memory_bytes));
  RETURN_IF_ERROR(field(24, &stat.resident_pages));
  return stat;
}

absl::StatusOr<int64_t> ParseBootTimeSeconds(absl::string_view proc_stat) {
  for (absl::string_view line : absl::StrSplit(proc_stat, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(line, &seconds)) {
      return absl::InvalidArgumentError(absl::StrCat("/proc/stat: bad btime line \"", line, "\""));
    }
    return seconds;
  }
  return absl::InvalidArgumentError("/proc/stat: no btime line");
}

absl::StatusOr<ProcessSample> ReadProcessSample() {
  ASSIGN_OR_RETURN(const std::string stat_text, ReadWholeFile("/proc/self/stat"));
  ASSIGN_OR_RETURN(const ProcStat stat, ParseProcStat(stat_text));
  ASSIGN_OR_RETURN(const std::string system_stat_text, ReadWholeFile("/proc/stat"));
  ASSIGN_OR_RETURN(const int64_t boot_time_seconds, ParseBootTimeSeconds(system_stat_text));
  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_bytes = static_cast<double>(sysconf(_SC_PAGESIZE));
  rlimit fd_limit{};
  if (getrlimit(RLIMIT_NOFILE, &fd_limit) != 0) {
    return absl::UnavailableError(absl::StrCat("getrlimit(RLIMIT_NOFILE): ", std::strerror(errno)));
  }

  ProcessSample sample;
  sample.cpu_seconds = static_cast<double>(stat.user_ticks + stat.system_ticks) / ticks_per_second;
  sample.resident_memory_bytes = static_cast<double>(stat.resident_pages) * page_bytes;
  sample.virtual_memory_bytes = static_cast<double>(stat.virtual_memory_bytes);
  sample.start_time_seconds = static_cast<double>(boot_time_seconds) +
                              static_cast<double>(stat.start_ticks) / ticks_per_second;
  ASSIGN_OR_RETURN(sample.open_fds, CountOpenFds());
  sample.max_fds = static_cast<double>(fd_limit.rlim_cur);
  return sample;
}

}  // namespace plumb::metrics
