// plumbctl against a fake coordinator on loopback: every subcommand end to end through the CLI.
#include "services/plumbctl/cli.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "absl/strings/str_split.h"
#include "services/plumbctl/fake_coordinator.h"
#include "services/plumbctl/plumbctl_test_util.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_certificates.h"

namespace plumb::plumbctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPpoSpec[] = R"(name: tiny-ppo
kind: JOB_KIND_PPO
seed: 18446744073709551615
labels: {team: "alignment"}
stages:
  - name: ppo
    kind: STAGE_KIND_ONLINE_RL
    rounds: 4
    prompt_data: [{path: "builtin:fortunes", format: DATASET_FORMAT_PLAIN_PROMPTS}]
    training:
      algorithm: ALGORITHM_PPO
)";

int CountOf(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

TEST(PlumbctlSubmitTest, PrintsOnlyTheJobIdAndSendsTheParsedSpec) {
  FakeCoordinator coordinator;
  const std::string spec = WriteFile(MakeTempFolder(), "job.yaml", kPpoSpec);
  CliResult result =
      RunCli({"submit", spec, "--address", coordinator.address(), "--idempotency-key", "k-1"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, "job-1\n");
  const v1::SubmitJobRequest sent = coordinator.last_submit();
  EXPECT_EQ(sent.spec().name(), "tiny-ppo");
  EXPECT_EQ(sent.spec().kind(), v1::JOB_KIND_PPO);
  EXPECT_EQ(sent.spec().seed(), 18446744073709551615ull);  // every digit of a uint64 kept
  EXPECT_EQ(sent.spec().labels().at("team"), "alignment");
  ASSERT_EQ(sent.spec().stages_size(), 1);
  EXPECT_EQ(sent.spec().stages(0).rounds(), 4);
  EXPECT_EQ(sent.spec().stages(0).prompt_data(0).format(), v1::DATASET_FORMAT_PLAIN_PROMPTS);
  EXPECT_EQ(sent.idempotency_key(), "k-1");
  EXPECT_FALSE(sent.validate_only());
}

TEST(PlumbctlSubmitTest, ValidateSetsValidateOnlyAndPrintsValid) {
  FakeCoordinator coordinator;
  const std::string spec = WriteFile(MakeTempFolder(), "job.json",
                                     R"({"name": "j", "kind": "JOB_KIND_SFT", "stages": []})");
  CliResult result = RunCli({"--address", coordinator.address(), "submit", spec, "--validate"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, "valid\n");
  EXPECT_TRUE(coordinator.last_submit().validate_only());
  EXPECT_EQ(coordinator.last_submit().spec().kind(), v1::JOB_KIND_SFT);
}

TEST(PlumbctlSubmitTest, AnUnknownFieldFailsBeforeAnyRpc) {
  FakeCoordinator coordinator;
  const std::string spec = WriteFile(MakeTempFolder(), "job.yaml", "name: x\nstagez: []\n");
  CliResult result = RunCli({"submit", spec, "--address", coordinator.address()});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(result.err, HasSubstr("stagez"));
  EXPECT_TRUE(coordinator.authorizations().empty());
}

TEST(PlumbctlListTest, AllPagesFollowsPageTokensToTheEnd) {
  FakeCoordinator coordinator;
  for (int i = 1; i <= 5; ++i)
    coordinator.AddJob(PpoJob("job-" + std::to_string(i), v1::JOB_STATE_RUNNING, 8));
  CliResult result =
      RunCli({"list", "--address", coordinator.address(), "--page-size", "2", "--all-pages"});
  ASSERT_EQ(result.code, 0) << result.err;
  for (int i = 1; i <= 5; ++i) EXPECT_THAT(result.out, HasSubstr("job-" + std::to_string(i)));
  EXPECT_EQ(coordinator.list_requests().size(), 3u);
  EXPECT_THAT(result.out, HasSubstr("JOB ID"));
  // name, kind, state, stage and 1-based round out of the stage's rounds, progress, age
  EXPECT_THAT(result.out, HasSubstr("name-job-1  PPO   RUNNING  ppo 2/8"));
  EXPECT_THAT(result.out, HasSubstr("50%       100s"));
}

TEST(PlumbctlListTest, OnePageNamesTheNextPageToken) {
  FakeCoordinator coordinator;
  for (int i = 1; i <= 3; ++i)
    coordinator.AddJob(PpoJob("job-" + std::to_string(i), v1::JOB_STATE_QUEUED, 1));
  CliResult result = RunCli({"list", "--address", coordinator.address(), "--page-size", "2"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("job-2"));
  EXPECT_THAT(result.out, Not(HasSubstr("job-3")));
  EXPECT_THAT(result.err, HasSubstr("--page-token 2"));
  EXPECT_EQ(coordinator.list_requests().size(), 1u);
}

TEST(PlumbctlListTest, FiltersReachTheRequest) {
  FakeCoordinator coordinator;
  CliResult result =
      RunCli({"list", "--address", coordinator.address(), "--state", "running", "--state",
              "JOB_STATE_QUEUED", "--kind", "grpo", "--label", "team=a=b"});
  ASSERT_EQ(result.code, 0) << result.err;
  ASSERT_EQ(coordinator.list_requests().size(), 1u);
  const v1::ListJobsRequest request = coordinator.list_requests()[0];
  ASSERT_EQ(request.states_size(), 2);
  EXPECT_EQ(request.states(0), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(request.states(1), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(request.kind(), v1::JOB_KIND_GRPO);
  EXPECT_EQ(request.labels().at("team"), "a=b");
}

TEST(PlumbctlListTest, AnUnknownStateIsRefusedNamingTheFlag) {
  FakeCoordinator coordinator;
  CliResult result = RunCli({"list", "--address", coordinator.address(), "--state", "sleeping"});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr("--state: unknown value \"sleeping\""));
  EXPECT_TRUE(coordinator.list_requests().empty());
}

TEST(PlumbctlStatusTest, PrintsStageRoundAndMetricsSortedByName) {
  FakeCoordinator coordinator;
  v1::Job job = PpoJob("job-7", v1::JOB_STATE_RUNNING, 10);
  (*job.mutable_status()->mutable_metrics())["reward_mean"] = 0.5;
  (*job.mutable_status()->mutable_metrics())["kl"] = 0.0125;
  job.mutable_status()->set_latest_checkpoint("/ckpt/round-1");
  job.mutable_status()->set_policy_version(3);
  job.mutable_status()->set_last_error("generator gen-0 timed out");
  job.mutable_status()->set_last_error_code(4);
  coordinator.AddJob(job);
  CliResult result = RunCli({"status", "job-7", "--address", coordinator.address()});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("state:       RUNNING\n"));
  EXPECT_THAT(result.out, HasSubstr("round:       2/10\n"));
  EXPECT_THAT(result.out, HasSubstr("checkpoint:  /ckpt/round-1\n"));
  EXPECT_THAT(result.out, HasSubstr("policy:      version 3\n"));
  EXPECT_THAT(result.out, HasSubstr("last error:  DEADLINE_EXCEEDED: generator gen-0 timed out"));
  EXPECT_THAT(result.out, HasSubstr("metrics:\n  kl           0.0125\n  reward_mean  0.5\n"));
}

TEST(PlumbctlStatusTest, JsonPrintsTheJobAsProtobufJson) {
  FakeCoordinator coordinator;
  coordinator.AddJob(PpoJob("job-7", v1::JOB_STATE_QUEUED, 10));
  CliResult result = RunCli({"status", "job-7", "--json", "--address", coordinator.address()});
  ASSERT_EQ(result.code, 0) << result.err;
  v1::Job parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(result.out, &parsed).ok()) << result.out;
  EXPECT_EQ(parsed.job_id(), "job-7");
  EXPECT_EQ(parsed.spec().stages(0).rounds(), 10);
  EXPECT_THAT(result.out, HasSubstr("\"job_id\""));  // proto field names, as specs are written
}

TEST(PlumbctlStatusTest, AnUnknownJobPrintsTheGrpcCodeAndExitsOne) {
  FakeCoordinator coordinator;
  CliResult result = RunCli({"status", "nope", "--address", coordinator.address()});
  EXPECT_EQ(result.code, 1);
  EXPECT_EQ(result.err, "plumbctl: NOT_FOUND: no job nope\n");
}

TEST(PlumbctlWatchTest, ResumesAfterABrokenStreamWithNoEventLostOrRepeated) {
  FakeCoordinator coordinator;
  coordinator.AddJob(PpoJob("job-1", v1::JOB_STATE_RUNNING, 4),
                     CannedEvents(4, v1::JOB_STATE_SUCCEEDED));
  coordinator.BreakWatchAfter(/*events=*/3, /*calls=*/2);
  CliResult result = RunCli({"watch", "job-1", "--address", coordinator.address()});
  ASSERT_EQ(result.code, 0) << result.err;
  for (int round = 1; round <= 4; ++round) {
    EXPECT_EQ(CountOf(result.out, "round " + std::to_string(round) + "/4"), 1) << result.out;
  }
  EXPECT_EQ(CountOf(result.out, "stage ppo (1/1) started"), 1);
  EXPECT_EQ(CountOf(result.out, "job job-1: RUNNING"), 1);
  EXPECT_EQ(CountOf(result.out, "job job-1: SUCCEEDED"), 1);
  EXPECT_THAT(coordinator.watch_after_sequences(), ::testing::ElementsAre(0, 3, 6));
  EXPECT_EQ(CountOf(result.err, "resuming after event"), 2);
  // Rounds take 10 s each: after round 2 of 4, two remain.
  EXPECT_THAT(result.out, HasSubstr("ppo  round 2/4  reward 0.5  kl 0.01  tok/s 1500  eta 20s\n"));
}

TEST(PlumbctlWatchTest, ExitCodesFollowTheFinalState) {
  FakeCoordinator coordinator;
  coordinator.AddJob(PpoJob("ok", v1::JOB_STATE_RUNNING, 2),
                     CannedEvents(2, v1::JOB_STATE_SUCCEEDED));
  coordinator.AddJob(PpoJob("bad", v1::JOB_STATE_RUNNING, 2),
                     CannedEvents(2, v1::JOB_STATE_FAILED));
  coordinator.AddJob(PpoJob("stop", v1::JOB_STATE_RUNNING, 2),
                     CannedEvents(2, v1::JOB_STATE_CANCELLED));
  EXPECT_EQ(RunCli({"watch", "ok", "--address", coordinator.address()}).code, 0);
  EXPECT_EQ(RunCli({"watch", "bad", "--address", coordinator.address()}).code, 1);
  EXPECT_EQ(RunCli({"watch", "stop", "--address", coordinator.address()}).code, 3);
}

TEST(PlumbctlWatchTest, GivesUpAfterTenBreaksInARow) {
  FakeCoordinator coordinator;
  coordinator.AddJob(PpoJob("job-1", v1::JOB_STATE_RUNNING, 2),
                     CannedEvents(2, v1::JOB_STATE_SUCCEEDED));
  coordinator.BreakWatchAfter(/*events=*/0, /*calls=*/100);
  CliResult result = RunCli({"watch", "job-1", "--address", coordinator.address()});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr("UNAVAILABLE: gave up after 10 reconnects"));
  EXPECT_EQ(CountOf(result.err, "resuming after event 0"), 10);
  // Each of the 11 streams was also retried by gRPC itself (it failed before any event).
  EXPECT_GE(coordinator.watch_after_sequences().size(), 11u);
}

TEST(PlumbctlWatchTest, OnATerminalRedrawsTheProgressLineInPlace) {
  FakeCoordinator coordinator;
  coordinator.AddJob(PpoJob("job-1", v1::JOB_STATE_RUNNING, 2),
                     CannedEvents(2, v1::JOB_STATE_SUCCEEDED));
  CliResult result = RunCli({"watch", "job-1", "--address", coordinator.address()}, {},
                            /*terminal=*/true);
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\r\033[Kppo  round 1/2"));
  EXPECT_THAT(result.out,
              HasSubstr("\r\033[Kppo  round 2/2  reward 0.5  kl 0.01  tok/s 1500  eta 0s\n"));
  EXPECT_THAT(result.out, Not(HasSubstr("round 1/2  reward 0.25  kl 0.01  tok/s 1500  eta 10s\n")));
}

TEST(PlumbctlEventsTest, PrintsTheStoredEventsOfARunningJobAndStops) {
  FakeCoordinator coordinator;
  coordinator.AddJob(PpoJob("job-1", v1::JOB_STATE_RUNNING, 5),
                     CannedEvents(2, v1::JOB_STATE_RUNNING));
  CliResult result = RunCli({"events", "job-1", "--address", coordinator.address()});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u) << result.out;
  EXPECT_EQ(lines[0], "1  2027-01-15T08:00:00Z  STATE_CHANGED  ppo round 1  RUNNING");
  EXPECT_EQ(lines[3],
            "4  2027-01-15T08:00:10Z  ROUND_FINISHED  ppo round 1  kl=0.01 reward_mean=0.25 "
            "tokens_per_second=1500");

  CliResult after = RunCli({"events", "job-1", "--after", "4", "--address", coordinator.address()});
  ASSERT_EQ(after.code, 0) << after.err;
  EXPECT_EQ(CountOf(after.out, "\n"), 2);
  EXPECT_EQ(after.out.substr(0, 3), "5  ");
}

TEST(PlumbctlCancelTest, SendsTheReasonAndPrintsTheState) {
  FakeCoordinator coordinator;
  CliResult result =
      RunCli({"cancel", "job-3", "--reason", "wrong dataset", "--address", coordinator.address()});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(coordinator.last_cancel().job_id(), "job-3");
  EXPECT_EQ(coordinator.last_cancel().reason(), "wrong dataset");
  EXPECT_EQ(result.out, "job-3: RUNNING (cancel requested)\n");
}

TEST(PlumbctlWorkersTest, PrintsATableAndSendsTheFilters) {
  FakeCoordinator coordinator;
  v1::WorkerInfo worker;
  worker.set_worker_id("w-1");
  worker.set_role(v1::WORKER_ROLE_GENERATOR);
  worker.set_endpoint("127.0.0.1:50051");
  worker.set_state(v1::WORKER_STATE_HEALTHY);
  worker.mutable_load()->set_active_requests(2);
  worker.mutable_load()->set_utilization(0.75);
  worker.mutable_load()->set_policy_version(9);
  worker.set_job_id("job-1");
  worker.mutable_last_heartbeat_time()->set_seconds(1'800'000'095);
  coordinator.AddWorker(worker);
  CliResult result = RunCli(
      {"workers", "--role", "generator", "--include-lost", "--address", coordinator.address()});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out,
            "WORKER ID  ROLE       ENDPOINT         STATE    ACTIVE  QUEUED  UTIL  VERSION  JOB    "
            "HEARTBEAT\n"
            "w-1        GENERATOR  127.0.0.1:50051  HEALTHY  2       0       75%   9        job-1  "
            "5s\n");
  EXPECT_TRUE(coordinator.last_list_workers().include_lost());
  ASSERT_EQ(coordinator.last_list_workers().roles_size(), 1);
  EXPECT_EQ(coordinator.last_list_workers().roles(0), v1::WORKER_ROLE_GENERATOR);
}

TEST(PlumbctlAuthTest, TheTokenIsSentAsBearerMetadata) {
  FakeCoordinator coordinator;
  coordinator.RequireToken("s3cret");
  const std::string token = WriteFile(MakeTempFolder(), "token", "s3cret\n");
  CliResult refused = RunCli({"workers", "--address", coordinator.address()});
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("UNAUTHENTICATED"));
  CliResult result = RunCli(
      {"workers", "--address", coordinator.address(), "--token-file", token, "--insecure-token"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(coordinator.authorizations().back(), "Bearer s3cret");
}

TEST(PlumbctlAuthTest, ATokenOverPlaintextIsRefusedWithoutInsecureToken) {
  FakeCoordinator coordinator;
  const std::string token = WriteFile(MakeTempFolder(), "token", "s3cret");
  CliResult result =
      RunCli({"workers", "--address", coordinator.address()}, {{"PLUMB_TOKEN_FILE", token}});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("a bearer token needs TLS"));
  EXPECT_TRUE(coordinator.authorizations().empty());  // nothing was sent
}

TEST(PlumbctlAuthTest, MutualTlsCarriesTheTokenWithoutInsecureToken) {
  absl::StatusOr<testing::TestCertificates> certs = testing::MakeTestCertificates(MakeTempFolder());
  ASSERT_TRUE(certs.ok()) << certs.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = certs->ca_pem;
  ssl.pem_key_cert_pairs.push_back({certs->server_key_pem, certs->server_cert_pem});
  FakeCoordinator coordinator(grpc::SslServerCredentials(ssl));
  coordinator.RequireToken("s3cret");
  const std::string token = WriteFile(MakeTempFolder(), "token", "s3cret");
  // The TLS files come from the config file, the token from the environment.
  const std::string xdg = MakeTempFolder();
  WriteFile(xdg, "plumb/config.yaml",
            "address: " + coordinator.address() + "\ntls:\n  ca_file: " + certs->dir +
                "/plumb-test-ca.pem\n  cert_file: " + certs->dir +
                "/client.pem\n  key_file: " + certs->dir + "/client.key\n");
  CliResult result = RunCli({"workers"}, {{"XDG_CONFIG_HOME", xdg}, {"PLUMB_TOKEN_FILE", token}});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(coordinator.authorizations().back(), "Bearer s3cret");

  // Without the client certificate the handshake fails: no call reaches the server.
  const size_t calls = coordinator.authorizations().size();
  CliResult no_cert = RunCli({"workers", "--address", coordinator.address(), "--tls-ca",
                              certs->dir + "/plumb-test-ca.pem", "--timeout", "2s"});
  EXPECT_EQ(no_cert.code, 1);
  EXPECT_THAT(no_cert.err, HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(coordinator.authorizations().size(), calls);
}

TEST(PlumbctlConfigTest, TheConfigFileUnderXdgConfigHomeNamesTheCoordinator) {
  FakeCoordinator coordinator;
  const std::string xdg = MakeTempFolder();
  WriteFile(xdg, "plumb/config.yaml", "address: " + coordinator.address() + "\ntimeout: 5s\n");
  CliResult result = RunCli({"workers"}, {{"XDG_CONFIG_HOME", xdg}});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("WORKER ID"));
}

TEST(PlumbctlConfigTest, HelpListsExitCodesAndTheDefaultAddress) {
  CliResult result = RunCli({"--help"});
  EXPECT_EQ(result.code, 0);
  EXPECT_THAT(result.out, HasSubstr("127.0.0.1:50060"));
  EXPECT_THAT(result.out, HasSubstr("3 (watch) the job was CANCELLED"));
}

TEST(PlumbctlConfigTest, AMissingSubcommandIsAUsageError) {
  EXPECT_EQ(RunCli({}).code, 2);
  EXPECT_EQ(RunCli({"frobnicate"}).code, 2);
  EXPECT_EQ(RunCli({"status"}).code, 2);  // JOB is required
}

// The built binary, as a script runs it: the id alone on stdout, watch's exit code the job's.
TEST(PlumbctlBinaryTest, ScriptsCaptureTheJobIdAndWatchsExitCode) {
  FakeCoordinator coordinator;
  coordinator.AddJob(PpoJob("job-1", v1::JOB_STATE_RUNNING, 2),
                     CannedEvents(2, v1::JOB_STATE_CANCELLED));
  const std::string folder = MakeTempFolder();
  // An explicit (empty) config file: the child never reads the real ~/.config.
  const std::string config = WriteFile(folder, "config.yaml", "");
  const std::string spec = WriteFile(folder, "job.yaml", kPpoSpec);
  absl::StatusOr<testing::Subprocess> submit =
      testing::Subprocess::Start({testing::BinaryPath("plumbctl"), "--config", config, "--address",
                                  coordinator.address(), "submit", spec});
  ASSERT_TRUE(submit.ok()) << submit.status();
  absl::StatusOr<std::string> id = submit->WaitForLine("job-", absl::Seconds(10));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "job-2");
  EXPECT_EQ(submit->Wait(absl::Seconds(10)).value_or(-1), 0);

  absl::StatusOr<testing::Subprocess> watch =
      testing::Subprocess::Start({testing::BinaryPath("plumbctl"), "--config", config, "watch",
                                  "job-1", "--address", coordinator.address()});
  ASSERT_TRUE(watch.ok()) << watch.status();
  // stdout is a pipe, not a terminal: plain lines, no carriage returns.
  absl::StatusOr<std::string> line = watch->WaitForLine("round 2/2", absl::Seconds(10));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->find('\r'), std::string::npos);
  EXPECT_EQ(watch->Wait(absl::Seconds(10)).value_or(-1), 3);
}

}  // namespace
}  // namespace plumb::plumbctl
