#include "services/plumbctl/plumbctl_test_util.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "services/plumbctl/cli.h"

namespace plumb::plumbctl {

std::string MakeTempFolder() {
  static std::atomic<int> counter{0};
  const std::filesystem::path folder = std::filesystem::path(testing::TempDir()) /
                                       absl::StrCat("plumbctl_test_", getpid(), "_", counter++);
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  return folder.string();
}

std::string WriteFile(const std::string& folder, const std::string& name, const std::string& text) {
  const std::filesystem::path path = std::filesystem::path(folder) / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
  return path.string();
}

CliResult RunCli(const std::vector<std::string>& args, std::map<std::string, std::string> env,
                 bool terminal) {
  if (!env.contains("HOME")) env["HOME"] = MakeTempFolder();
  std::vector<const char*> argv = {"plumbctl"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out, err;
  CliEnvironment environment{
      .out = &out,
      .err = &err,
      .out_is_terminal = terminal,
      .env = [env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end() || it->second.empty()) return std::nullopt;
        return it->second;
      },
      .now = [] { return absl::FromUnixSeconds(1'800'000'100); },
      .watch_initial_backoff = absl::Milliseconds(1),
      .retry = {.initial_backoff = absl::Milliseconds(1), .max_backoff = absl::Milliseconds(2)},
  };
  CliResult result;
  result.code = RunPlumbctl(static_cast<int>(argv.size()), argv.data(), environment);
  result.out = out.str();
  result.err = err.str();
  return result;
}

v1::Job PpoJob(const std::string& id, v1::JobState state, int rounds) {
  v1::Job job;
  job.set_job_id(id);
  job.mutable_spec()->set_name(absl::StrCat("name-", id));
  job.mutable_spec()->set_kind(v1::JOB_KIND_PPO);
  v1::Stage* stage = job.mutable_spec()->add_stages();
  stage->set_name("ppo");
  stage->set_kind(v1::STAGE_KIND_ONLINE_RL);
  stage->set_rounds(rounds);
  job.mutable_status()->set_state(state);
  job.mutable_status()->set_stage_name("ppo");
  job.mutable_status()->set_round(1);
  job.mutable_status()->set_progress(0.5);
  job.mutable_status()->mutable_create_time()->set_seconds(1'800'000'000);
  return job;
}

std::vector<v1::JobEvent> CannedEvents(int rounds, v1::JobState final_state) {
  std::vector<v1::JobEvent> events;
  int64_t clock = 1'800'000'000;
  auto add = [&](v1::JobEventType type, v1::JobState state, int round) -> v1::JobEvent& {
    v1::JobEvent& event = events.emplace_back();
    event.set_type(type);
    event.set_state(state);
    event.set_stage_name("ppo");
    event.set_round(round);
    event.mutable_time()->set_seconds(clock);
    return event;
  };
  add(v1::JOB_EVENT_TYPE_STATE_CHANGED, v1::JOB_STATE_RUNNING, 0);
  add(v1::JOB_EVENT_TYPE_STAGE_STARTED, v1::JOB_STATE_RUNNING, 0);
  for (int round = 0; round < rounds; ++round) {
    add(v1::JOB_EVENT_TYPE_ROUND_STARTED, v1::JOB_STATE_RUNNING, round);
    clock += 10;
    v1::JobEvent& finished = add(v1::JOB_EVENT_TYPE_ROUND_FINISHED, v1::JOB_STATE_RUNNING, round);
    (*finished.mutable_metrics())["reward_mean"] = 0.25 * (round + 1);
    (*finished.mutable_metrics())["kl"] = 0.01;
    (*finished.mutable_metrics())["tokens_per_second"] = 1500;
  }
  if (final_state != v1::JOB_STATE_RUNNING) {
    add(v1::JOB_EVENT_TYPE_STAGE_FINISHED, v1::JOB_STATE_RUNNING, rounds - 1);
    add(v1::JOB_EVENT_TYPE_STATE_CHANGED, final_state, rounds - 1);
  }
  return events;
}

}  // namespace plumb::plumbctl
