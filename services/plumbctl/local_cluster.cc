#include "services/plumbctl/local_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/checkpoint/file_io.h"
#include "common/rpc/channel_factory.h"
#include "common/rpc/grpc_probe.h"
#include "common/status/status_macros.h"

extern char** environ;

namespace plumb::plumbctl {
namespace {

namespace fs = std::filesystem;

struct Service {
  const char* name;         // config template, log and pid file name
  const char* health_name;  // the gRPC service whose health is checked
  int port_offset;
};

// In start order: the coordinator last (it probes the others).
constexpr Service kServices[] = {
    {"generator", "plumb.v1.Generator", 1},      {"scorer", "plumb.v1.RewardScorer", 2},
    {"reference", "plumb.v1.Reference", 3},      {"learner", "plumb.v1.Learner", 4},
    {"coordinator", "plumb.v1.Coordinator", 10},
};

std::string Endpoint(const LocalClusterOptions& o, const Service& s) {
  return absl::StrCat("127.0.0.1:", o.base_port + s.port_offset);
}

std::string BinDir(const LocalClusterOptions& o) {
  if (!o.bin_dir.empty()) return o.bin_dir;
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? "." : self.parent_path().string();
}

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  return checkpoint::ReadFileToString(path, size_t{4} << 20);
}

// /proc files report a size of 0: read them as a stream.
std::string ReadProcFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path.string(), ": cannot write"));
  return absl::OkStatus();
}

// The pid in <run>/pids/<name>.pid if that process is alive and runs plumb-<name>.
std::optional<pid_t> RunningPid(const LocalClusterOptions& o, const Service& s) {
  absl::StatusOr<std::string> text =
      ReadFile(fs::path(o.run_dir) / "pids" / (std::string(s.name) + ".pid"));
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 0) {
    return std::nullopt;
  }
  if (kill(pid, 0) != 0) return std::nullopt;
  const std::string cmdline = ReadProcFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (cmdline.find(absl::StrCat("plumb-", s.name)) == std::string::npos) {
    return std::nullopt;  // a reused pid
  }
  return pid;
}

bool Serving(const LocalClusterOptions& o, const Service& s) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      rpc::CreateChannel(rpc::ChannelOptions{.target = Endpoint(o, s)});
  if (!channel.ok()) return false;
  absl::StatusOr<rpc::ServingStatus> status =
      rpc::CheckHealth(*channel, s.health_name, absl::Seconds(2));
  return status.ok() && *status == rpc::ServingStatus::kServing;
}

std::string LogTail(const LocalClusterOptions& o, const Service& s) {
  absl::StatusOr<std::string> log =
      ReadFile(fs::path(o.run_dir) / "logs" / (std::string(s.name) + ".log"));
  if (!log.ok()) return "";
  return log->size() > 2000 ? log->substr(log->size() - 2000) : *log;
}

// Starts `argv` in its own session with stdout and stderr to `log`; returns its pid.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID);  // outlives this plumbctl
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start ", argv[0], ": ", std::strerror(error)));
  }
  return pid;
}

// Stops `pid`: SIGTERM, then SIGKILL after `grace`. Reaps it when it is our child.
void Stop(pid_t pid, absl::Duration grace) {
  kill(pid, SIGTERM);
  const absl::Time until = absl::Now() + grace;
  while (absl::Now() < until) {
    waitpid(pid, nullptr, WNOHANG);
    if (kill(pid, 0) != 0) return;
    absl::SleepFor(absl::Milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

absl::Status MakeModelIfMissing(const LocalClusterOptions& o, std::ostream& out) {
  const fs::path model = fs::path(o.run_dir) / "models" / "policy";
  if (fs::exists(model / "config.json")) return absl::OkStatus();
  out << "making a tiny random model in " << model.string() << "\n";
  const fs::path log = fs::path(o.run_dir) / "logs" / "plumb-model.log";
  ASSIGN_OR_RETURN(pid_t pid, Spawn({(fs::path(BinDir(o)) / "plumb-model").string(), "init",
                                     "--out", model.string(), "--size", "tiny", "--seed", "1"},
                                    log));
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("plumb-model init failed; see ", log.string()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LocalUp(const LocalClusterOptions& o, std::ostream& out) {
  const fs::path run = fs::absolute(o.run_dir);
  for (const char* sub : {"config", "logs", "pids", "models", "state", "checkpoints", "data"}) {
    std::error_code error;
    fs::create_directories(run / sub, error);
    if (error) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create ", (run / sub).string(), ": ", error.message()));
    }
  }
  LocalClusterOptions options = o;
  options.run_dir = run.string();
  RETURN_IF_ERROR(MakeModelIfMissing(options, out));
  // Example prompts (configs/local/data) for jobs to train on: data/prompts/<file>.
  std::error_code error;
  if (fs::is_directory(fs::path(o.config_dir) / "data", error)) {
    fs::create_directories(run / "data" / "prompts", error);
    for (const fs::directory_entry& entry :
         fs::directory_iterator(fs::path(o.config_dir) / "data")) {
      const fs::path target = run / "data" / "prompts" / entry.path().filename();
      if (!fs::exists(target)) fs::copy_file(entry.path(), target, error);
      if (error) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot copy ", entry.path().string(), ": ", error.message()));
      }
    }
  }
  std::vector<std::pair<std::string, std::string>> values = {{"{run}", run.string()}};
  for (const Service& s : kServices) {
    values.push_back(
        {absl::StrCat("{", s.name, "_port}"), absl::StrCat(o.base_port + s.port_offset)});
  }
  std::vector<pid_t> started;
  auto abandon = [&](const absl::Status& status) {
    for (pid_t pid : started) Stop(pid, absl::Seconds(10));
    return status;
  };
  for (const Service& s : kServices) {
    if (std::optional<pid_t> pid = RunningPid(options, s); pid.has_value()) {
      out << s.name << ": already running (pid " << *pid << ")\n";
      continue;
    }
    absl::StatusOr<std::string> text =
        ReadFile(fs::path(o.config_dir) / (std::string(s.name) + ".yaml"));
    if (!text.ok()) return abandon(text.status());
    const fs::path config = run / "config" / (std::string(s.name) + ".yaml");
    if (absl::Status written = WriteFile(config, absl::StrReplaceAll(*text, values));
        !written.ok()) {
      return abandon(written);
    }
    const fs::path binary = fs::path(BinDir(options)) / absl::StrCat("plumb-", s.name);
    absl::StatusOr<pid_t> pid = Spawn({binary.string(), "--config", config.string()},
                                      run / "logs" / (std::string(s.name) + ".log"));
    if (!pid.ok()) return abandon(pid.status());
    started.push_back(*pid);
    if (absl::Status written =
            WriteFile(run / "pids" / (std::string(s.name) + ".pid"), absl::StrCat(*pid, "\n"));
        !written.ok()) {
      return abandon(written);
    }
    out << s.name << ": started (pid " << *pid << ") on " << Endpoint(options, s) << "\n";
    // Wait for each before the next: the coordinator probes the others at start.
    const absl::Time until = absl::Now() + o.timeout;
    while (!Serving(options, s)) {
      if (kill(*pid, 0) != 0 || waitpid(*pid, nullptr, WNOHANG) == *pid) {
        return abandon(absl::FailedPreconditionError(
            absl::StrCat(s.name, " exited during start-up; its log ends:\n", LogTail(options, s))));
      }
      if (absl::Now() > until) {
        return abandon(absl::DeadlineExceededError(
            absl::StrCat(s.name, " is not SERVING after ", absl::FormatDuration(o.timeout),
                         "; its log ends:\n", LogTail(options, s))));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  out << "every service is SERVING; the coordinator is at " << Endpoint(options, kServices[4])
      << " (logs in " << (run / "logs").string() << ")\n";
  return absl::OkStatus();
}

absl::Status LocalDown(const LocalClusterOptions& o, std::ostream& out) {
  for (auto it = std::rbegin(kServices); it != std::rend(kServices); ++it) {
    std::optional<pid_t> pid = RunningPid(o, *it);
    std::error_code ignored;
    fs::remove(fs::path(o.run_dir) / "pids" / (std::string(it->name) + ".pid"), ignored);
    if (!pid.has_value()) {
      out << it->name << ": not running\n";
      continue;
    }
    Stop(*pid, absl::Seconds(30));
    out << it->name << ": stopped (pid " << *pid << ")\n";
  }
  return absl::OkStatus();
}

absl::Status LocalStatus(const LocalClusterOptions& o, std::ostream& out) {
  int down = 0;
  for (const Service& s : kServices) {
    std::optional<pid_t> pid = RunningPid(o, s);
    const bool serving = pid.has_value() && Serving(o, s);
    down += serving ? 0 : 1;
    out << s.name << "\t" << (pid.has_value() ? absl::StrCat("pid ", *pid) : "not running") << "\t"
        << Endpoint(o, s) << "\t" << (serving ? "SERVING" : "not serving") << "\n";
  }
  if (down > 0) return absl::UnavailableError(absl::StrCat(down, " service(s) not serving"));
  return absl::OkStatus();
}

}  // namespace plumb::plumbctl
