// The coordinator's rounds, measured on the real services (issue 12):
//   1. Synchronous against asynchronous rounds of the same PPO job (same spec and seed), with the
//      generation side (generator, reference, scorer) pinned to CPU 0 and the learner to CPU 1
//      (`taskset -a -p`), standing for separate machines: rounds per minute, and the mean reward
//      of the rounds, so that speed is never read without what was learned.
// The job: PPO on the 3M model, 4 prompts x 4 samples x 24 tokens per round, a length reward.
//   2. The coordinator's own overhead: a synchronous job's wall time per round against the same
//      rounds called directly (rounds::RunPolicyGradientRound over the same gRPC clients) from
//      this process.
// Jobs alternate between the modes; medians of --reps runs. Prints a Markdown table.
//
// Usage: PLUMB_BIN_DIR=build/bin plumb-bench-coordinator [--reps N] [--rounds R]
#include <grpcpp/grpcpp.h>
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/clients/grpc_clients.h"
#include "common/rounds/rounds.h"
#include "plumb/v1/coordinator.grpc.pb.h"
#include "tests/support/service_process.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;

template <typename T>
T Take(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) {
    std::fprintf(stderr, "coordinator bench: %s: %s\n", what, value.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(value);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Pins every thread of `pid` to `cpu`.
void Pin(int pid, int cpu) {
  const std::string command = absl::StrCat("taskset -a -p -c ", cpu, " ", pid, " >/dev/null");
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "coordinator bench: taskset failed for pid %d\n", pid);
    std::exit(1);
  }
}

struct JobRun {
  double seconds = 0;              // the job's start to end, as the coordinator recorded them
  double seconds_per_round = 0;    // steady state: first to last ROUND_FINISHED / (rounds - 1)
  double reward_mean = 0;          // over its rounds
  double dropped = 0;              // stale rollouts (asynchronous rounds)
  double generate = 0, train = 0;  // mean seconds per round in those phases
};

class Bench {
 public:
  explicit Bench(int rounds) : rounds_(rounds) {
    root_ = fs::temp_directory_path() / absl::StrCat("plumb_coordinator_bench_", getpid());
    Take(absl::StatusOr<bool>(testing::MakeEmptyFolder(root_.string()).ok()), "folder");
    const std::string init =
        absl::StrCat(std::getenv("PLUMB_BIN_DIR"), "/plumb-model init --out ",
                     (root_ / "policy").string(), " --size 3m --seed 1 >/dev/null");
    if (std::system(init.c_str()) != 0) {
      std::fprintf(stderr, "coordinator bench: plumb-model init failed\n");
      std::exit(1);
    }
    fs::create_directories(root_ / "data");
    fs::create_directories(root_ / "state");
    std::ofstream prompts(root_ / "data" / "prompts.jsonl");
    for (int i = 0; i < 64; ++i) prompts << "{\"prompt\": \"Item " << i << ": say something\"}\n";
    prompts.close();
    const std::string common =
        "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\nlogging: {level: warn}\n";
    // One operator thread each: the two sides get one core each.
    generator_ =
        Start("generator", common + "generator:\n  threads: 1\n  model: {path: policy}\n", 0);
    reference_ =
        Start("reference", common + "reference:\n  threads: 1\n  model: {path: policy}\n", 0);
    scorer_ = Start("scorer",
                    common +
                        "scorer:\n  objectives: [length]\n  objective_options:\n"
                        "    length: {kind: length, target_chars: 12}\n",
                    0);
    learner_ =
        Start("learner",
              common + "learner: {threads: 1, checkpoint_root: checkpoints, " +
                  "model_roots: [\".\"], publish_targets: [\"" + generator_.endpoint + "\"]}\n",
              1);
    coordinator_ =
        Start("coordinator",
              absl::StrCat(common, "coordinator:\n  state_path: state/coordinator.db\n",
                           "  data_roots: [data]\n  checkpoint_roots: [\"", root_.string(), "\"]\n",
                           "  probe_interval: 500ms\n  workers:\n    generators: [\"",
                           generator_.endpoint, "\"]\n    scorers: [\"", scorer_.endpoint,
                           "\"]\n    references: [\"", reference_.endpoint,
                           "\"]\n    learners: [\"", learner_.endpoint, "\"]\n"),
              -1);
    stub_ = v1::Coordinator::NewStub(
        grpc::CreateChannel(coordinator_.endpoint, grpc::InsecureChannelCredentials()));
  }

  ~Bench() {
    for (testing::RunningService* s :
         {&coordinator_, &learner_, &scorer_, &reference_, &generator_}) {
      s->process.reset();
    }
    fs::remove_all(root_);
  }

  std::string Spec(bool async) const {
    return absl::StrCat(R"(
name: bench
kind: JOB_KIND_PPO
base_checkpoint: )",
                        (root_ / "policy").string(), R"(
seed: 7
stages:
  - name: rl
    kind: STAGE_KIND_ONLINE_RL
    rounds: )",
                        rounds_, R"(
    prompt_data: [{path: prompts.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    models: {reference: REFERENCE_CHOICE_AS_DEPLOYED}
    training: {algorithm: ALGORITHM_PPO, ppo: {epochs: 1}, optimizer: {learning_rate: 1.0e-4}}
    sampling: {num_samples: 4, max_new_tokens: 24, temperature: 1.0}
    scheduling: {prompts_per_round: 4, rpc_timeout: 600s, round_mode: )",
                        async ? "ROUND_MODE_ASYNC" : "ROUND_MODE_SYNC", R"(}
)");
  }

  JobRun RunJob(bool async) {
    v1::SubmitJobRequest request;
    request.set_spec_text(Spec(async));
    v1::SubmitJobResponse submitted;
    {
      grpc::ClientContext context;
      const grpc::Status status = stub_->SubmitJob(&context, request, &submitted);
      if (!status.ok()) {
        std::fprintf(stderr, "coordinator bench: submit: %s\n", status.error_message().c_str());
        std::exit(1);
      }
    }
    v1::WatchJobRequest watch;
    watch.set_job_id(submitted.job_id());
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader = stub_->WatchJob(&context, watch);
    v1::JobEvent event;
    JobRun run;
    int rounds = 0;
    double first = 0, last = 0;
    while (reader->Read(&event)) {
      if (event.type() != v1::JOB_EVENT_TYPE_ROUND_FINISHED) continue;
      const double t = event.time().seconds() + event.time().nanos() * 1e-9;
      if (rounds == 0) first = t;
      last = t;
      run.reward_mean += event.metrics().at("reward_mean");
      run.dropped += event.metrics().at("dropped_stale_rollouts");
      run.generate += event.metrics().at("seconds/generate");
      run.train += event.metrics().at("seconds/train");
      ++rounds;
    }
    run.seconds_per_round = rounds > 1 ? (last - first) / (rounds - 1) : 0;
    run.generate /= std::max(1, rounds);
    run.train /= std::max(1, rounds);
    reader->Finish();
    v1::GetJobRequest get;
    get.set_job_id(submitted.job_id());
    v1::GetJobResponse job;
    grpc::ClientContext get_context;
    stub_->GetJob(&get_context, get, &job);
    if (job.job().status().state() != v1::JOB_STATE_SUCCEEDED) {
      std::fprintf(stderr, "coordinator bench: job %s ended %s: %s\n", submitted.job_id().c_str(),
                   v1::JobState_Name(job.job().status().state()).c_str(),
                   job.job().status().last_error().c_str());
      std::exit(1);
    }
    const auto& s = job.job().status();
    run.seconds = (s.end_time().seconds() - s.start_time().seconds()) +
                  (s.end_time().nanos() - s.start_time().nanos()) * 1e-9;
    run.reward_mean /= std::max(1, rounds);
    return run;
  }

  // The same rounds called directly over gRPC clients from this process: seconds per round, steady
  // state (the first round, which warms caches, is not counted).
  double DirectSecondsPerRound() {
    auto options = [](const testing::RunningService& s) {
      return rpc::ChannelOptions{.target = s.endpoint, .default_deadline = absl::Seconds(600)};
    };
    auto generator = Take(clients::NewGrpcGeneratorClient(options(generator_)), "generator");
    auto reference = Take(clients::NewGrpcReferenceClient(options(reference_)), "reference");
    auto scorer = Take(clients::NewGrpcScorerClient(options(scorer_)), "scorer");
    auto learner = Take(clients::NewGrpcLearnerClient(options(learner_)), "learner");
    learner::SessionOptions session = learner::SessionOptions::Defaults(learner::Algorithm::kPpo);
    session.ppo.epochs = 1;
    session.optimizer.lr = 1e-4;
    session.policy_path = (root_ / "policy").string();
    const std::string id =
        Take(learner->StartSession({.options = session, .replace_active = true}, {}), "session").id;
    absl::Time start = absl::Now();
    for (int r = 0; r < rounds_; ++r) {
      if (r == 1) start = absl::Now();
      rounds::RoundSpec spec;
      spec.round_id = absl::StrCat("direct/r", r);
      spec.session_id = id;
      for (int i = 0; i < 4; ++i) {
        spec.prompts.push_back(
            {.id = absl::StrCat("p", i),
             .text = absl::StrCat("Item ", (r * 8 + i) % 64, ": say something")});
      }
      spec.sampling.num_samples = 4;
      spec.sampling.max_new_tokens = 24;
      spec.sampling.temperature = 1.0;
      spec.sampling.seed = 7 + r;
      spec.sequence = static_cast<uint64_t>(r) + 1;
      spec.allow_downgrade = true;
      spec.call_timeout = absl::Seconds(600);
      Take(rounds::RunPolicyGradientRound(
               {{generator.get()}, scorer.get(), reference.get(), learner.get()}, spec),
           "direct round");
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start) / std::max(1, rounds_ - 1);
    (void)learner->EndSession(id, {});
    return seconds;
  }

 private:
  testing::RunningService Start(const std::string& name, const std::string& yaml, int cpu) {
    testing::RunningService service =
        Take(testing::StartServiceWithYaml(absl::StrCat("plumb-", name),
                                           (root_ / (name + ".yaml")).string(), yaml,
                                           absl::Seconds(120)),
             name.c_str());
    if (cpu >= 0) Pin(service.process->pid(), cpu);
    return service;
  }

  const int rounds_;
  fs::path root_;
  testing::RunningService generator_, reference_, scorer_, learner_, coordinator_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

}  // namespace
}  // namespace plumb

int main(int argc, char** argv) {
  int reps = 3;
  int rounds = 8;
  CLI::App app("Synchronous vs asynchronous coordinator rounds, and the coordinator's overhead");
  app.add_option("--reps", reps, "Jobs per mode (medians)");
  app.add_option("--rounds", rounds, "Rounds per job");
  CLI11_PARSE(app, argc, argv);
  if (std::getenv("PLUMB_BIN_DIR") == nullptr) {
    std::fprintf(stderr, "coordinator bench: set PLUMB_BIN_DIR (e.g. build/bin)\n");
    return 2;
  }
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
    std::fprintf(stderr, "coordinator bench: needs 2 CPUs (one per side)\n");
    return 1;
  }
  plumb::Bench bench(rounds);
  std::vector<double> sync_rpm, async_rpm, sync_reward, async_reward, dropped, direct, coordinated,
      sync_job, async_job, generate, train;
  (void)bench.RunJob(false);  // warm-up
  for (int i = 0; i < reps; ++i) {
    const plumb::JobRun s = bench.RunJob(false);
    const plumb::JobRun a = bench.RunJob(true);
    sync_rpm.push_back(60.0 / s.seconds_per_round);
    async_rpm.push_back(60.0 / a.seconds_per_round);
    sync_job.push_back(s.seconds);
    async_job.push_back(a.seconds);
    generate.push_back(s.generate);
    train.push_back(s.train);
    sync_reward.push_back(s.reward_mean);
    async_reward.push_back(a.reward_mean);
    dropped.push_back(a.dropped);
    coordinated.push_back(s.seconds_per_round);
    direct.push_back(bench.DirectSecondsPerRound());
  }
  std::printf("| measure | synchronous | asynchronous | async / sync |\n|---|---|---|---|\n");
  std::printf("| rounds per minute (steady state) | %.1f | %.1f | %.2fx |\n",
              plumb::Median(sync_rpm), plumb::Median(async_rpm),
              plumb::Median(async_rpm) / plumb::Median(sync_rpm));
  std::printf("| whole job, seconds (start, rounds, final checkpoint) | %.2f | %.2f | %.2fx |\n",
              plumb::Median(sync_job), plumb::Median(async_job),
              plumb::Median(sync_job) / plumb::Median(async_job));
  std::printf("| synchronous round: generate / train seconds | %.3f / %.3f | - | - |\n",
              plumb::Median(generate), plumb::Median(train));
  std::printf("| mean reward of the rounds | %.4f | %.4f | - |\n", plumb::Median(sync_reward),
              plumb::Median(async_reward));
  std::printf("| stale rollouts dropped per job | 0 | %.0f | - |\n\n", plumb::Median(dropped));
  std::printf(
      "| measure | rounds called directly | through the coordinator | overhead |\n"
      "|---|---|---|---|\n");
  std::printf("| seconds per synchronous round | %.3f | %.3f | %+.1f%% |\n", plumb::Median(direct),
              plumb::Median(coordinated),
              100.0 * (plumb::Median(coordinated) / plumb::Median(direct) - 1.0));
  return 0;
}
