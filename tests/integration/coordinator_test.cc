// plumb-coordinator with the four real model services on loopback: PPO and GRPO jobs submitted
// over gRPC (as YAML text and as a proto), watched to completion with every round counted; jobs
// listed and cancelled; bad specs refused naming the key; callers authenticated; a coordinator
// killed with SIGKILL mid-job resumes without repeating a round; a generator killed mid-job is
// replaced and the job completes with every round trained once.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "plumb/v1/coordinator.grpc.pb.h"
#include "tests/support/service_process.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kAliceToken[] = "alice-token-0123456789";
constexpr char kBobToken[] = "bob-token-0123456789ab";

struct Server {
  std::unique_ptr<testing::Subprocess> process;
  std::string endpoint;
  int metrics_port = 0;
  std::string binary, name, yaml;  // to start it again at the same address
};

class CoordinatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ =
        new fs::path(fs::path(::testing::TempDir()) / absl::StrCat("coordinator_test_", getpid()));
    ASSERT_TRUE(testing::MakeEmptyFolder(root_->string()).ok());
    ASSERT_TRUE(testing::MakeTinyModel((*root_ / "policy").string(), "--seed 1").ok());
    fs::create_directories(*root_ / "data");
    fs::create_directories(*root_ / "state");
    std::ofstream prompts(*root_ / "data" / "prompts.jsonl");
    for (const char* p : {"Tell me about your day.", "What do you think of rain?",
                          "Describe a cat.", "Say something kind.", "Name a colour."}) {
      prompts << "{\"prompt\": \"" << p << "\"}\n";
    }
    prompts.close();
    std::ofstream users(*root_ / "users.txt");
    users << kAliceToken << " alice\n" << kBobToken << " bob\n";
    users.close();
    const std::string common = "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\n";
    Start("generator", "generator-a", common + "generator:\n  model: {path: policy}\n",
          &generators_[0]);
    Start("generator", "generator-b", common + "generator:\n  model: {path: policy}\n",
          &generators_[1]);
    Start("reference", "reference", common + "reference:\n  model: {path: policy}\n", &reference_);
    Start("scorer", "scorer",
          common +
              "scorer:\n  objectives: [sentiment]\n  objective_options:\n"
              "    sentiment: {kind: afinn}\n",
          &scorer_);
    Start("learner", "learner",
          common + "learner: {checkpoint_root: checkpoints, model_roots: [\".\"], " +
              "publish_targets: [\"" + generators_[0].endpoint + "\", \"" +
              generators_[1].endpoint + "\", \"" + reference_.endpoint + "\", \"" +
              scorer_.endpoint + "\"]}\n",
          &learner_);
    StartCoordinator();
  }

  static void Start(const std::string& binary, const std::string& name, const std::string& yaml,
                    Server* server) {
    absl::StatusOr<testing::RunningService> service = testing::StartServiceWithYaml(
        "plumb-" + binary, (*root_ / (name + ".yaml")).string(), yaml);
    ASSERT_TRUE(service.ok()) << service.status();
    server->process = std::move(service->process);
    server->endpoint = service->endpoint;
    server->metrics_port = service->metrics_port;
    server->binary = binary;
    server->name = name;
    server->yaml = yaml;
  }

  // Kills the service with SIGKILL (no drain) and waits for it to be gone.
  static void Kill(Server* server) {
    server->process->Signal(SIGKILL);
    ASSERT_TRUE(server->process->Wait(absl::Seconds(10)).ok());
  }

  // Starts a killed service again, listening where it listened before.
  static void Restart(Server* server) {
    const std::string yaml = absl::StrReplaceAll(
        server->yaml,
        {{"address: \"127.0.0.1:0\"", absl::StrCat("address: \"", server->endpoint, "\"")}});
    Server again;
    Start(server->binary, server->name, yaml, &again);
    ASSERT_EQ(again.endpoint, server->endpoint);
    server->process = std::move(again.process);
  }

  static bool HasEvent(const std::string& id, v1::JobEventType type, const std::string& text) {
    v1::WatchJobRequest request;
    request.set_job_id(id);
    v1::GetJobRequest get;
    get.set_job_id(id);
    v1::GetJobResponse job;
    if (!stub_->GetJob(Context().get(), get, &job).ok()) return false;
    // Read what is stored: a deadline ends the stream once caught up. It is long enough for a
    // loaded machine to stream every stored event before it, or the event could never be seen.
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kAliceToken));
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader = stub_->WatchJob(&context, request);
    v1::JobEvent event;
    bool found = false;
    while (reader->Read(&event)) {
      found |= event.type() == type && event.message().find(text) != std::string::npos;
    }
    reader->Finish();
    return found;
  }

  static std::string CoordinatorYaml() {
    return absl::StrCat(
        "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: true, port: 0}\n", "coordinator:\n",
        "  state_path: state/coordinator.db\n", "  data_roots: [data]\n", "  checkpoint_roots: [\"",
        root_->string(), "\"]\n", "  probe_interval: 200ms\n",
        "  users_file: ", (*root_ / "users.txt").string(), "\n", "  workers:\n",
        "    generators: [\"", generators_[0].endpoint, "\", \"", generators_[1].endpoint, "\"]\n",
        "    scorers: [\"", scorer_.endpoint, "\"]\n", "    references: [\"", reference_.endpoint,
        "\"]\n", "    learners: [\"", learner_.endpoint, "\"]\n", "    client: {deadline: 120s}\n");
  }

  static void StartCoordinator() {
    // A restarted coordinator binds a new port: the stub follows it.
    Start("coordinator", "coordinator", CoordinatorYaml(), &coordinator_);
    stub_ = v1::Coordinator::NewStub(
        grpc::CreateChannel(coordinator_.endpoint, grpc::InsecureChannelCredentials()));
  }

  static void TearDownTestSuite() {
    coordinator_.process.reset();
    for (Server& g : generators_) g.process.reset();
    reference_.process.reset();
    scorer_.process.reset();
    learner_.process.reset();
    stub_.reset();
    fs::remove_all(*root_);
    delete root_;
  }

  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token = kAliceToken) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(300));
    return context;
  }

  static std::string Spec(const std::string& algorithm, int rounds, int samples) {
    return absl::StrCat(R"(
name: test-job
kind: JOB_KIND_)",
                        algorithm, R"(
base_checkpoint: )",
                        (*root_ / "policy").string(), R"(
seed: 5
stages:
  - name: rl
    kind: STAGE_KIND_ONLINE_RL
    rounds: )",
                        rounds, R"(
    prompt_data: [{path: prompts.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    models: {reference: REFERENCE_CHOICE_AS_DEPLOYED}
    training: {algorithm: ALGORITHM_)",
                        algorithm, R"(}
    sampling: {num_samples: )",
                        samples, R"(, max_new_tokens: 8}
    scheduling: {prompts_per_round: 4, rpc_timeout: 120s}
)");
  }

  static absl::StatusOr<std::string> Submit(const std::string& spec_text,
                                            const std::string& token = kAliceToken) {
    v1::SubmitJobRequest request;
    request.set_spec_text(spec_text);
    v1::SubmitJobResponse response;
    grpc::Status status = stub_->SubmitJob(Context(token).get(), request, &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    }
    return response.job_id();
  }

  // Every event of the job until its terminal one, resuming from the last sequence on a broken
  // stream (a restarted coordinator).
  static std::vector<v1::JobEvent> WatchToEnd(const std::string& job_id) {
    std::vector<v1::JobEvent> events;
    // One deadline for the whole watch: a job that never ends fails its test, not the suite.
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(180);
    for (int attempt = 0; attempt < 20 && std::chrono::system_clock::now() < deadline; ++attempt) {
      v1::WatchJobRequest request;
      request.set_job_id(job_id);
      request.set_after_sequence(events.empty() ? 0 : events.back().sequence());
      auto context = Context();
      context->set_deadline(deadline);
      std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader =
          stub_->WatchJob(context.get(), request);
      v1::JobEvent event;
      while (reader->Read(&event)) events.push_back(event);
      if (reader->Finish().ok()) return events;
      absl::SleepFor(absl::Milliseconds(500));
    }
    return events;
  }

  static v1::Job GetJob(const std::string& id) {
    v1::GetJobRequest request;
    request.set_job_id(id);
    v1::GetJobResponse response;
    EXPECT_TRUE(stub_->GetJob(Context().get(), request, &response).ok());
    return response.job();
  }

  static inline fs::path* root_ = nullptr;
  static inline Server generators_[2];
  static inline Server reference_, scorer_, learner_, coordinator_;
  static inline std::unique_ptr<v1::Coordinator::Stub> stub_;
};

std::map<int, int> RoundsFinished(const std::vector<v1::JobEvent>& events) {
  std::map<int, int> rounds;
  for (const v1::JobEvent& e : events) {
    if (e.type() == v1::JOB_EVENT_TYPE_ROUND_FINISHED) ++rounds[e.round()];
  }
  return rounds;
}

TEST_F(CoordinatorTest, APpoJobSubmittedAsYamlRunsEveryRoundAndSucceeds) {
  absl::StatusOr<std::string> id = Submit(Spec("PPO", 3, 2));
  ASSERT_TRUE(id.ok()) << id.status();
  const std::vector<v1::JobEvent> events = WatchToEnd(*id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::JOB_STATE_SUCCEEDED) << events.back().message();
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].sequence(), i + 1);
  EXPECT_EQ(RoundsFinished(events), (std::map<int, int>{{0, 1}, {1, 1}, {2, 1}}));
  for (const v1::JobEvent& e : events) {
    if (e.type() != v1::JOB_EVENT_TYPE_ROUND_FINISHED) continue;
    EXPECT_EQ(e.metrics().at("rollouts"), 8);  // 4 prompts x 2 samples
    EXPECT_TRUE(e.metrics().contains("kl"));
    EXPECT_TRUE(e.metrics().contains("distinct_2"));
    EXPECT_TRUE(e.metrics().contains("response_tokens_mean"));
  }
  const v1::Job job = GetJob(*id);
  EXPECT_EQ(job.status().state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.status().progress(), 1);
  EXPECT_GT(job.status().policy_version(), 0u);
  EXPECT_EQ(job.status().latest_checkpoint(), absl::StrCat("jobs/", *id, "/rl"));
  EXPECT_TRUE(fs::exists(*root_ / "checkpoints" / "jobs" / *id / "rl"));
  EXPECT_EQ(job.spec().stages(0).rounds(), 3);

  // The coordinator's /metrics endpoint counts the rounds and the workers.
  httplib::Client http("127.0.0.1", coordinator_.metrics_port);
  httplib::Result scrape = http.Get("/metrics");
  ASSERT_TRUE(scrape) << "GET /metrics failed";
  EXPECT_THAT(scrape->body, HasSubstr("plumb_coordinator_rounds_total"));
  EXPECT_THAT(scrape->body,
              HasSubstr(R"(plumb_coordinator_workers{role="generator",health="healthy"} 2)"));
  EXPECT_THAT(scrape->body, HasSubstr(R"(plumb_coordinator_jobs{state="SUCCEEDED"})"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_coordinator_learner_idle_fraction"));

  v1::ListJobsRequest list;
  v1::ListJobsResponse listed;
  ASSERT_TRUE(stub_->ListJobs(Context().get(), list, &listed).ok());
  bool found = false;
  for (const v1::Job& j : listed.jobs()) found |= j.job_id() == *id;
  EXPECT_TRUE(found);
}

TEST_F(CoordinatorTest, AGrpoJobSubmittedAsAProtoTrainsGroupsOfK) {
  v1::SubmitJobRequest request;
  v1::JobSpec* spec = request.mutable_spec();
  spec->set_name("grpo");
  spec->set_kind(v1::JOB_KIND_GRPO);
  spec->set_base_checkpoint((*root_ / "policy").string());
  v1::Stage* stage = spec->add_stages();
  stage->set_kind(v1::STAGE_KIND_ONLINE_RL);
  stage->set_rounds(2);
  v1::DatasetRef* data = stage->add_prompt_data();
  data->set_path("prompts.jsonl");
  data->set_format(v1::DATASET_FORMAT_PLAIN_PROMPTS);
  stage->mutable_models()->set_reference(v1::REFERENCE_CHOICE_AS_DEPLOYED);
  stage->mutable_training()->set_algorithm(v1::ALGORITHM_GRPO);
  stage->mutable_sampling()->set_num_samples(4);
  stage->mutable_sampling()->set_max_new_tokens(8);
  stage->mutable_scheduling()->set_prompts_per_round(2);
  v1::SubmitJobResponse response;
  const grpc::Status status = stub_->SubmitJob(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::vector<v1::JobEvent> events = WatchToEnd(response.job_id());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::JOB_STATE_SUCCEEDED) << events.back().message();
  EXPECT_EQ(RoundsFinished(events), (std::map<int, int>{{0, 1}, {1, 1}}));
  for (const v1::JobEvent& e : events) {
    if (e.type() == v1::JOB_EVENT_TYPE_ROUND_FINISHED) {
      EXPECT_EQ(e.metrics().at("rollouts"), 8);
    }
  }
}

// Asynchronous rounds on the real services: round n + 1 generates while round n trains and the
// learner publishes new weights to generators that are sampling; every round is trained once and
// no rollout is past the default bound of one publish.
TEST_F(CoordinatorTest, AnAsynchronousPpoJobTrainsEveryRoundOnce) {
  const std::string spec = absl::StrReplaceAll(
      Spec("PPO", 4, 2),
      {{"prompts_per_round: 4,", "prompts_per_round: 4, round_mode: ROUND_MODE_ASYNC,"}});
  absl::StatusOr<std::string> id = Submit(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  const std::vector<v1::JobEvent> events = WatchToEnd(*id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::JOB_STATE_SUCCEEDED) << events.back().message();
  EXPECT_EQ(RoundsFinished(events), (std::map<int, int>{{0, 1}, {1, 1}, {2, 1}, {3, 1}}));
  for (const v1::JobEvent& e : events) {
    if (e.type() != v1::JOB_EVENT_TYPE_ROUND_FINISHED) continue;
    EXPECT_EQ(e.metrics().at("rollouts") + e.metrics().at("dropped_stale_rollouts"), 8);
    EXPECT_EQ(e.metrics().at("dropped_stale_rollouts"), 0);
  }
}

TEST_F(CoordinatorTest, BadSpecsAreRefusedNamingTheKey) {
  const std::string good = Spec("PPO", 1, 2);
  struct Case {
    std::string spec;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {absl::StrReplaceAll(good, {{"rounds: 1", "rounds: 1\n    colour: blue"}}), "colour"},
      {absl::StrReplaceAll(good, {{"JOB_KIND_PPO", "JOB_KIND_TELEPATHY"}}), "kind"},
      {absl::StrReplaceAll(good, {{"prompts.jsonl", "../../etc/passwd"}}), "prompt_data"},
      {absl::StrReplaceAll(good, {{"algorithm: ALGORITHM_PPO}",
                                   "algorithm: ALGORITHM_PPO, optimizer: {learning_rate: -1}}"}}),
       "learning_rate"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> id = Submit(c.spec);
    ASSERT_FALSE(id.ok()) << c.expected;
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << id.status();
    EXPECT_THAT(std::string(id.status().message()), HasSubstr(c.expected));
  }
}

TEST_F(CoordinatorTest, CallersNeedATokenAndSeeOnlyTheirOwnJobs) {
  v1::GetJobRequest request;
  request.set_job_id("job-0000000000000000");
  v1::GetJobResponse response;
  EXPECT_EQ(stub_->GetJob(Context("").get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->GetJob(Context("wrong-token-0123456789").get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::SubmitJobRequest validate;
  validate.set_spec_text(Spec("PPO", 1, 2));
  validate.set_validate_only(true);
  v1::SubmitJobResponse validated;
  ASSERT_TRUE(stub_->SubmitJob(Context().get(), validate, &validated).ok());
  EXPECT_TRUE(validated.job_id().empty());

  absl::StatusOr<std::string> id = Submit(Spec("PPO", 1, 2));
  ASSERT_TRUE(id.ok()) << id.status();
  request.set_job_id(*id);
  EXPECT_EQ(stub_->GetJob(Context(kBobToken).get(), request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::CancelJobRequest cancel;
  cancel.set_job_id(*id);
  v1::CancelJobResponse cancelled;
  EXPECT_EQ(stub_->CancelJob(Context(kBobToken).get(), cancel, &cancelled).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ListJobsRequest list;
  v1::ListJobsResponse listed;
  ASSERT_TRUE(stub_->ListJobs(Context(kBobToken).get(), list, &listed).ok());
  for (const v1::Job& j : listed.jobs()) EXPECT_NE(j.job_id(), *id);
  WatchToEnd(*id);
}

TEST_F(CoordinatorTest, CancellingARunningJobEndsItAndFreesItsWorkers) {
  absl::StatusOr<std::string> id = Submit(Spec("PPO", 200, 2));
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < 600 && GetJob(*id).status().round() < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  v1::CancelJobRequest cancel;
  cancel.set_job_id(*id);
  cancel.set_reason("test");
  v1::CancelJobResponse cancelled;
  ASSERT_TRUE(stub_->CancelJob(Context().get(), cancel, &cancelled).ok());
  const std::vector<v1::JobEvent> events = WatchToEnd(*id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::JOB_STATE_CANCELLED);
  v1::ListWorkersRequest workers;
  v1::ListWorkersResponse listed;
  for (int i = 0; i < 50; ++i) {
    listed.Clear();
    ASSERT_TRUE(stub_->ListWorkers(Context().get(), workers, &listed).ok());
    bool busy = false;
    for (const v1::WorkerInfo& w : listed.workers()) busy |= w.job_id() == *id;
    if (!busy) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(listed.workers_size(), 5);
  for (const v1::WorkerInfo& w : listed.workers()) EXPECT_NE(w.job_id(), *id);
}

TEST_F(CoordinatorTest, ACoordinatorKilledMidJobResumesWithoutRepeatingARound) {
  absl::StatusOr<std::string> id = Submit(Spec("PPO", 6, 2));
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < 600 && GetJob(*id).status().round() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  coordinator_.process->Signal(SIGKILL);
  ASSERT_TRUE(coordinator_.process->Wait(absl::Seconds(10)).ok());
  StartCoordinator();
  const std::vector<v1::JobEvent> events = WatchToEnd(*id);
  ASSERT_FALSE(events.empty());
  std::string trail;
  for (const v1::JobEvent& e : events) {
    absl::StrAppend(&trail, e.sequence(), " ", v1::JobEventType_Name(e.type()), " r", e.round(),
                    " ", e.message(), "\n");
  }
  EXPECT_EQ(events.back().state(), v1::JOB_STATE_SUCCEEDED) << trail;
  // Every round finished exactly once, across both coordinator processes.
  EXPECT_EQ(RoundsFinished(events),
            (std::map<int, int>{{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}));
}

// A client generated by other tooling: Python stubs from the .proto files (protoc with
// grpc_python_plugin) and Debian's python3-grpcio submit a job and watch its events.
TEST_F(CoordinatorTest, APythonClientFromGeneratedStubsSubmitsAndWatchesAJob) {
  const char* source = std::getenv("PLUMB_SOURCE_DIR");
  ASSERT_NE(source, nullptr);
  const fs::path stubs = *root_ / "python_stubs";
  fs::create_directories(stubs);
  std::vector<std::string> protoc = {"/usr/bin/protoc",
                                     absl::StrCat("--proto_path=", source, "/proto"),
                                     absl::StrCat("--python_out=", stubs.string()),
                                     absl::StrCat("--grpc_python_out=", stubs.string()),
                                     "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin"};
  for (const char* name : {"common", "coordinator", "learner", "tensor"}) {
    protoc.push_back(absl::StrCat(source, "/proto/plumb/v1/", name, ".proto"));
  }
  absl::StatusOr<testing::Subprocess> generate = testing::Subprocess::Start(protoc, true);
  ASSERT_TRUE(generate.ok()) << generate.status();
  ASSERT_EQ(generate->Wait(absl::Seconds(60)).value_or(-1), 0);
  ASSERT_TRUE(fs::exists(stubs / "plumb" / "v1" / "coordinator_pb2_grpc.py"));
  const fs::path spec = *root_ / "python_job.yaml";
  {
    std::ofstream out(spec);
    out << Spec("PPO", 2, 2);
  }
  absl::StatusOr<testing::Subprocess> client = testing::Subprocess::Start(
      {"/usr/bin/python3", absl::StrCat(source, "/tests/integration/python_coordinator_client.py"),
       "--stubs", stubs.string(), "--address", coordinator_.endpoint, "--token", kAliceToken,
       "--spec", spec.string()},
      true);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::string> summary = client->WaitForLine("SUMMARY", absl::Seconds(300));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(*summary, HasSubstr("state=JOB_STATE_SUCCEEDED"));
  EXPECT_THAT(*summary, HasSubstr("rounds=2"));
  EXPECT_THAT(*summary, HasSubstr("contiguous=true"));
  EXPECT_EQ(client->Wait(absl::Seconds(30)).value_or(-1), 0);
}

// plumbctl against the real coordinator: submit prints the id, watch follows the job to its
// end (exit 0), list shows it, and a cancelled job's watch exits 3.
TEST_F(CoordinatorTest, PlumbctlSubmitsWatchesListsAndCancels) {
  const char* bin = std::getenv("PLUMB_BIN_DIR");
  ASSERT_NE(bin, nullptr);
  const fs::path token = *root_ / "alice.token";
  {
    std::ofstream out(token);
    out << kAliceToken << "\n";
  }
  const fs::path spec = *root_ / "plumbctl_job.yaml";
  {
    std::ofstream out(spec);
    out << Spec("GRPO", 2, 2);
  }
  auto plumbctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {absl::StrCat(bin, "/plumbctl"),
                                     "--address",
                                     coordinator_.endpoint,
                                     "--token-file",
                                     token.string(),
                                     "--insecure-token",
                                     "--config",
                                     "/dev/null"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::Subprocess::Start(argv, true);
  };
  absl::StatusOr<testing::Subprocess> submit = plumbctl({"submit", spec.string()});
  ASSERT_TRUE(submit.ok()) << submit.status();
  absl::StatusOr<std::string> id = submit->WaitForLine("job-", absl::Seconds(60));
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_EQ(submit->Wait(absl::Seconds(30)).value_or(-1), 0);
  const std::string job_id(absl::StripAsciiWhitespace(*id));

  absl::StatusOr<testing::Subprocess> watch = plumbctl({"watch", job_id});
  ASSERT_TRUE(watch.ok());
  EXPECT_EQ(watch->Wait(absl::Seconds(300)).value_or(-1), 0);  // SUCCEEDED
  EXPECT_EQ(GetJob(job_id).status().state(), v1::JOB_STATE_SUCCEEDED);

  absl::StatusOr<testing::Subprocess> list = plumbctl({"list"});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->WaitForLine(job_id, absl::Seconds(30)).ok());

  const fs::path long_spec = *root_ / "plumbctl_long.yaml";
  {
    std::ofstream out(long_spec);
    out << Spec("PPO", 200, 2);
  }
  absl::StatusOr<testing::Subprocess> submit_long = plumbctl({"submit", long_spec.string()});
  ASSERT_TRUE(submit_long.ok());
  absl::StatusOr<std::string> long_id = submit_long->WaitForLine("job-", absl::Seconds(60));
  ASSERT_TRUE(long_id.ok());
  const std::string long_job(absl::StripAsciiWhitespace(*long_id));
  absl::StatusOr<testing::Subprocess> watch_long = plumbctl({"watch", long_job});
  ASSERT_TRUE(watch_long.ok());
  for (int i = 0; i < 600 && GetJob(long_job).status().round() < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::StatusOr<testing::Subprocess> cancel = plumbctl({"cancel", long_job, "--reason", "test"});
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->Wait(absl::Seconds(30)).value_or(-1), 0);
  EXPECT_EQ(watch_long->Wait(absl::Seconds(120)).value_or(-1), 3);  // CANCELLED
}

// A pool of two learners, two references, two generators and one shared scorer, behind a
// coordinator of its own: two jobs run at once, a third waits QUEUED saying what it needs, and
// starts when a job is cancelled and frees its workers.
TEST_F(CoordinatorTest, TwoJobsRunAtOnceOnOnePoolAndAThirdWaitsForWorkers) {
  const std::string common = "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\n";
  Server reference2, learner2, coordinator2;
  Start("reference", "reference2", common + "reference:\n  model: {path: policy}\n", &reference2);
  Start("learner", "learner2",
        common + "learner: {checkpoint_root: checkpoints2, model_roots: [\".\"], " +
            "publish_targets: [\"" + generators_[0].endpoint + "\", \"" + generators_[1].endpoint +
            "\", \"" + reference2.endpoint + "\"]}\n",
        &learner2);
  fs::create_directories(*root_ / "state2");
  Start("coordinator", "coordinator2",
        absl::StrCat(common, "coordinator:\n  state_path: state2/coordinator.db\n",
                     "  data_roots: [data]\n  checkpoint_roots: [\"", root_->string(), "\"]\n",
                     "  probe_interval: 200ms\n  workers:\n", "    generators: [\"",
                     generators_[0].endpoint, "\", \"", generators_[1].endpoint, "\"]\n",
                     "    scorers: [\"", scorer_.endpoint, "\"]\n", "    references: [\"",
                     reference_.endpoint, "\", \"", reference2.endpoint, "\"]\n",
                     "    learners: [\"", learner_.endpoint, "\", \"", learner2.endpoint, "\"]\n"),
        &coordinator2);
  auto stub = v1::Coordinator::NewStub(
      grpc::CreateChannel(coordinator2.endpoint, grpc::InsecureChannelCredentials()));
  auto submit = [&](int rounds) {
    v1::SubmitJobRequest request;
    request.set_spec_text(absl::StrReplaceAll(
        Spec("PPO", rounds, 2),
        {{"prompts_per_round: 4,", "prompts_per_round: 4, generator_replicas: 1,"}}));
    v1::SubmitJobResponse response;
    auto context = std::make_unique<grpc::ClientContext>();  // no users file: no token
    EXPECT_TRUE(stub->SubmitJob(context.get(), request, &response).ok());
    return response.job_id();
  };
  auto job = [&](const std::string& id) {
    v1::GetJobRequest request;
    request.set_job_id(id);
    v1::GetJobResponse response;
    grpc::ClientContext context;
    stub->GetJob(&context, request, &response);
    return response.job();
  };
  auto wait = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 600 && !done(); ++i) absl::SleepFor(absl::Milliseconds(50));
    return done();
  };
  const std::string a = submit(500);
  const std::string b = submit(500);
  ASSERT_TRUE(wait([&] {
    return job(a).status().state() == v1::JOB_STATE_RUNNING &&
           job(b).status().state() == v1::JOB_STATE_RUNNING;
  }));
  const std::string c = submit(1);
  ASSERT_TRUE(wait([&] { return !job(c).status().last_error().empty(); }));
  EXPECT_EQ(job(c).status().state(), v1::JOB_STATE_QUEUED);
  EXPECT_THAT(job(c).status().last_error(), HasSubstr("waiting for workers"));
  EXPECT_THAT(job(c).status().last_error(), HasSubstr("learner"));
  // Cancelling A frees a learner, a reference and a generator: C runs to the end.
  v1::CancelJobRequest cancel;
  cancel.set_job_id(a);
  v1::CancelJobResponse cancelled;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub->CancelJob(&context, cancel, &cancelled).ok());
  }
  EXPECT_TRUE(wait([&] { return job(c).status().state() == v1::JOB_STATE_SUCCEEDED; }))
      << v1::JobState_Name(job(c).status().state()) << " " << job(c).status().last_error();
  EXPECT_EQ(job(a).status().state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(job(b).status().state(), v1::JOB_STATE_RUNNING);
  cancel.set_job_id(b);
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub->CancelJob(&context, cancel, &cancelled).ok());
  }
  EXPECT_TRUE(wait([&] { return job(b).status().state() == v1::JOB_STATE_CANCELLED; }));
  coordinator2.process.reset();
  learner2.process.reset();
  reference2.process.reset();
}

// The fault tests kill a worker once the job is past its first round. A few rounds take tens of
// milliseconds here, so a short job could end before the kill and the test would see no fault;
// these jobs leave a second or more of rounds after it.
constexpr int kLongJobRounds = 24;

std::map<int, int> EveryRoundOnce(int rounds) {
  std::map<int, int> once;
  for (int r = 0; r < rounds; ++r) once[r] = 1;
  return once;
}

TEST_F(CoordinatorTest, AStoppedScorerPausesTheJobNamingTheRoleUntilItIsBack) {
  absl::StatusOr<std::string> id = Submit(Spec("PPO", kLongJobRounds, 2));
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < 6000 && GetJob(*id).status().round() < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  Kill(&scorer_);
  bool paused = false;
  for (int i = 0; i < 60 && !paused; ++i) {
    paused = HasEvent(*id, v1::JOB_EVENT_TYPE_WORKER_LOST, "no healthy scorer");
    if (!paused) absl::SleepFor(absl::Milliseconds(100));
  }
  const v1::JobStatus while_down = GetJob(*id).status();
  // The scorer comes back whatever happened, so one failure here does not stall the tests after.
  Restart(&scorer_);
  ASSERT_TRUE(paused) << v1::JobState_Name(while_down.state()) << " round " << while_down.round()
                      << ": " << while_down.last_error();
  EXPECT_EQ(while_down.state(), v1::JOB_STATE_RUNNING);
  const std::vector<v1::JobEvent> events = WatchToEnd(*id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::JOB_STATE_SUCCEEDED) << events.back().message();
  EXPECT_EQ(RoundsFinished(events), EveryRoundOnce(kLongJobRounds));
}

TEST_F(CoordinatorTest, AKilledLearnerIsWaitedForAndTheJobResumesFromItsLastCheckpoint) {
  const std::string spec = absl::StrReplaceAll(
      Spec("PPO", kLongJobRounds, 2),
      {{"prompts_per_round: 4,", "prompts_per_round: 4, checkpoint_every: 2,"}});
  absl::StatusOr<std::string> id = Submit(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < 6000 && GetJob(*id).status().round() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  Kill(&learner_);
  Restart(&learner_);
  const std::vector<v1::JobEvent> events = WatchToEnd(*id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::JOB_STATE_SUCCEEDED) << events.back().message();
  // The new learner started from the checkpoint after round 1 (or 3): the rounds after it ran
  // again, every round at least once, and the resume is in the events.
  const std::map<int, int> rounds = RoundsFinished(events);
  ASSERT_EQ(rounds.size(), static_cast<size_t>(kLongJobRounds));
  for (const auto& [round, times] : rounds) EXPECT_GE(times, 1) << round;
  bool resumed = false;
  for (const v1::JobEvent& e : events) {
    resumed |= e.message().find("resuming from round") != std::string::npos;
  }
  EXPECT_TRUE(resumed);
  EXPECT_EQ(GetJob(*id).status().latest_checkpoint(), absl::StrCat("jobs/", *id, "/rl"));
}

// Runs last (it kills a generator the other tests use).
TEST_F(CoordinatorTest, ZKilledGeneratorMidJobIsReplacedAndEveryRoundIsTrainedOnce) {
  absl::StatusOr<std::string> id = Submit(Spec("PPO", kLongJobRounds, 2));
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < 6000 && GetJob(*id).status().round() < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  generators_[1].process->Signal(SIGKILL);
  const std::vector<v1::JobEvent> events = WatchToEnd(*id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::JOB_STATE_SUCCEEDED) << events.back().message();
  EXPECT_EQ(RoundsFinished(events), EveryRoundOnce(kLongJobRounds));
  // The round that found the generator dead handed its share to the other one.
  int rounds_that_lost_it = 0;
  for (const v1::JobEvent& e : events) {
    if (e.type() == v1::JOB_EVENT_TYPE_ROUND_FINISHED) {
      rounds_that_lost_it += e.metrics().at("lost_generators") == 1;
    }
  }
  EXPECT_EQ(rounds_that_lost_it, 1);
  for (const v1::JobEvent& e : events) {
    // No lost and no duplicated sample: every round trained on 4 prompts x 2 samples.
    if (e.type() == v1::JOB_EVENT_TYPE_ROUND_FINISHED) {
      EXPECT_EQ(e.metrics().at("rollouts"), 8);
    }
  }
}

}  // namespace
}  // namespace plumb
