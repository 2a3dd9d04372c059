// The command line of every service binary, run for real: --help and --version answer and exit 0,
// --check-config validates a config without serving, and bad arguments or configs exit 2 with a
// message that names the problem.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/service_process.h"
#include "tests/support/subprocess.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

RunResult RunBinary(const std::string& binary, const std::string& args) {
  const fs::path log = fs::path(::testing::TempDir()) / "service_cli_test.log";
  const std::string command = "timeout 60 " + testing::BinaryPath(binary) + " " + args + " >" +
                              log.string() + " 2>&1 </dev/null";
  const int status = std::system(command.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

class ServiceCliTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ServiceCliTest, HelpListsTheOptionsAndExitsZero) {
  const RunResult help = RunBinary(GetParam(), "--help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_THAT(help.output, HasSubstr("--config"));
  EXPECT_THAT(help.output, HasSubstr("--check-config"));
  EXPECT_THAT(help.output, HasSubstr("--version"));
  EXPECT_THAT(help.output, Not(HasSubstr("unexpected argument")));
}

TEST_P(ServiceCliTest, VersionNamesTheBinary) {
  const RunResult version = RunBinary(GetParam(), "--version");
  EXPECT_EQ(version.exit_code, 0) << version.output;
  EXPECT_THAT(version.output, HasSubstr(std::string(GetParam()) + " 0."));
}

TEST_P(ServiceCliTest, AnUnknownFlagIsAUsageError) {
  const RunResult bad = RunBinary(GetParam(), "--config x.yaml --bogus");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--bogus"));
}

TEST_P(ServiceCliTest, CheckConfigRefusesAMisspelledKeyWithFileAndLine) {
  const fs::path config = fs::path(::testing::TempDir()) / "service_cli_bad.yaml";
  std::ofstream(config) << "server:\n  adress: 127.0.0.1:0\n";
  const RunResult bad = RunBinary(GetParam(), "--check-config --config " + config.string());
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("service_cli_bad.yaml:2: key 'server.adress'"));
}

INSTANTIATE_TEST_SUITE_P(EveryService, ServiceCliTest,
                         ::testing::Values("plumb-generator", "plumb-reference", "plumb-scorer",
                                           "plumb-learner", "plumb-coordinator"));

// The shipped example config of the coordinator is valid (its folders need not exist to check).
TEST(ServiceCliCheckConfigTest, TheCoordinatorsExampleConfigChecks) {
  const char* source = std::getenv("PLUMB_SOURCE_DIR");
  ASSERT_NE(source, nullptr);
  const RunResult checked =
      RunBinary("plumb-coordinator", std::string("--check-config --config ") + source +
                                         "/configs/services/coordinator.example.yaml");
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
}

TEST(ServiceCliCheckConfigTest, AValidConfigIsReportedOkWithoutServing) {
  const fs::path dir = fs::path(::testing::TempDir()) / "service_cli_ok";
  ASSERT_TRUE(testing::MakeEmptyFolder(dir.string()).ok());
  ASSERT_TRUE(testing::MakeTinyModel((dir / "model").string()).ok());
  const fs::path generator = dir / "generator.yaml";
  std::ofstream(generator) << "server:\n  address: 127.0.0.1:0\ngenerator:\n  model:\n    path: "
                           << (dir / "model").string() << "\n";
  const RunResult ok =
      RunBinary("plumb-generator", "--check-config --config " + generator.string());
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("plumb-generator: configuration OK"));
  EXPECT_THAT(ok.output, Not(HasSubstr("ready")));
  const fs::path scorer = dir / "scorer.yaml";
  std::ofstream(scorer) << "scorer:\n  objectives: [brevity]\n  objective_options:\n    brevity:\n"
                           "      kind: length\n      target_chars: 20\n";
  const RunResult scored = RunBinary("plumb-scorer", "--check-config --config " + scorer.string());
  EXPECT_EQ(scored.exit_code, 0) << scored.output;
  EXPECT_THAT(scored.output, HasSubstr("plumb-scorer: configuration OK"));
}

}  // namespace
}  // namespace plumb
