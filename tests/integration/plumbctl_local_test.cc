// `plumbctl local up|status|down` with the real binaries: the whole cluster of configs/local
// starts in a run folder (with a tiny model and example prompts), answers health checks, runs a
// PPO job submitted with plumbctl, and stops.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/support/service_process.h"
#include "tests/support/subprocess.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int exit_code = -1;
  std::string output;
};

CliRun Plumbctl(const std::vector<std::string>& args, absl::Duration timeout = absl::Seconds(300)) {
  std::vector<std::string> argv = {absl::StrCat(std::getenv("PLUMB_BIN_DIR"), "/plumbctl")};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<testing::Subprocess> process = testing::Subprocess::Start(argv, true);
  if (!process.ok()) return {};
  CliRun run;
  // Read everything it prints (a line that never comes ends the read at exit).
  while (true) {
    absl::StatusOr<std::string> line = process->WaitForLine("", timeout);
    if (!line.ok()) break;
    absl::StrAppend(&run.output, *line, "\n");
  }
  run.exit_code = process->Wait(absl::Seconds(60)).value_or(-1);
  return run;
}

TEST(PlumbctlLocalTest, UpStartsEveryServiceARealJobRunsAndDownStopsThem) {
  const fs::path run = fs::path(::testing::TempDir()) / absl::StrCat("plumbctl_local_", getpid());
  fs::remove_all(run);
  const std::string source = std::getenv("PLUMB_SOURCE_DIR");
  const std::string base = absl::StrCat(20000 + (getpid() % 400) * 100);
  const std::vector<std::string> where = {
      "--run-dir", run.string(), "--config-dir", source + "/configs/local", "--base-port", base};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), where.begin(), where.end());
    return args;
  };
  const CliRun up = Plumbctl(with({"local", "up"}));
  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_THAT(up.output, ::testing::HasSubstr("every service is SERVING"));
  EXPECT_TRUE(fs::exists(run / "models" / "policy" / "config.json"));
  EXPECT_TRUE(fs::exists(run / "data" / "prompts" / "plain.jsonl"));

  const CliRun status = Plumbctl(with({"local", "status"}));
  EXPECT_EQ(status.exit_code, 0) << status.output;
  for (const char* service : {"generator", "scorer", "reference", "learner", "coordinator"}) {
    EXPECT_THAT(status.output, ::testing::ContainsRegex(absl::StrCat(service, ".*SERVING")));
  }
  // Up again: nothing is started twice.
  const CliRun again = Plumbctl(with({"local", "up"}));
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, ::testing::HasSubstr("coordinator: already running"));

  // A small PPO job on the local cluster's model and prompts.
  const fs::path spec = run / "job.yaml";
  std::ofstream(spec) << R"(name: local-ppo
kind: JOB_KIND_PPO
base_checkpoint: models/policy
stages:
  - kind: STAGE_KIND_ONLINE_RL
    rounds: 2
    prompt_data: [{path: prompts/plain.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    training: {algorithm: ALGORITHM_PPO}
    sampling: {num_samples: 2, max_new_tokens: 8}
    scheduling: {prompts_per_round: 4}
)";
  const std::string address = absl::StrCat("127.0.0.1:", std::stoi(base) + 10);
  const CliRun submit =
      Plumbctl({"--address", address, "--config", "/dev/null", "submit", spec.string()});
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  const std::string job(absl::StripAsciiWhitespace(submit.output));
  const CliRun watch = Plumbctl({"--address", address, "--config", "/dev/null", "watch", job});
  EXPECT_EQ(watch.exit_code, 0) << watch.output;  // SUCCEEDED

  const CliRun down = Plumbctl(with({"local", "down"}));
  EXPECT_EQ(down.exit_code, 0) << down.output;
  EXPECT_THAT(down.output, ::testing::HasSubstr("coordinator: stopped"));
  const CliRun after = Plumbctl(with({"local", "status"}));
  EXPECT_EQ(after.exit_code, 1) << after.output;
  EXPECT_THAT(after.output, ::testing::HasSubstr("not running"));
  fs::remove_all(run);
}

}  // namespace
}  // namespace plumb
