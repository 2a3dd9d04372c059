// One PPO step over the four real services on loopback against the same step in one process
// with the same libraries: the RPC overhead as a fraction of the step (goal: <= 10%).
//
//   PLUMB_BIN_DIR=build/bin build/bin/plumb-bench-ppo-step [--reps 5] [--warmup 1] [--threads 1]
//       [--prompts 8] [--samples 4] [--new-tokens 32] [--epochs 1]
//
// A step is one rounds::RunPolicyGradientRound (common/rounds), the function a coordinator calls:
// Generate (prompts x samples, ignore_eos so every response has new-tokens tokens) -> Score (a
// reward model of the policy's shape + AFINN) beside the reference's log-probs -> one PPO Train
// call -> the new policy into the generator. Over the services the round runs on the gRPC
// clients (common/clients) against plumb-generator, plumb-scorer, plumb-reference and
// plumb-learner on port 0; in one process it runs on in-process clients over the cores
// (bench/in_process_clients.h), whose publish copies LearnerCore::Weights into the generator's
// VersionedModel::Apply, the call a LoadWeights stream ends in. The reference is not republished
// on either side: in PPO it stays the frozen initial policy. Score and reference run side by
// side on both sides, so their phase times overlap.
//
// Both sides load the same model folders, parse the same YAML sections, run with the same
// LibTorch intra-op thread count and the same malloc settings. Steps alternate between the sides
// (the first side swaps every step), so both train the same policy through the same versions; the
// bench reports whether their rollouts stayed identical, i.e. whether they did the same work.
// It prints medians per phase for each side, plus the time each service reported for its own
// part of the call: client minus that is the call's transport and proto conversion, a figure
// that other load on the machine barely moves, unlike the difference between two steps.
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/in_process_clients.h"
#include "common/clients/grpc_clients.h"
#include "common/config/config_map.h"
#include "common/metrics/registry.h"
#include "common/model/hf_checkpoint.h"
#include "common/rounds/rounds.h"
#include "common/service/malloc_tuning.h"
#include "common/tokenizer/load_tokenizer.h"
#include "common/weights/versioned_model.h"
#include "services/plumb-generator/generator_core.h"
#include "services/plumb-generator/generator_options.h"
#include "services/plumb-learner/learner_core.h"
#include "services/plumb-reference/reference_core.h"
#include "services/plumb-reference/reference_options.h"
#include "services/plumb-scorer/scorer.h"
#include "services/plumb-scorer/scorer_options.h"
#include "tests/support/service_process.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

enum Phase { kGenerate, kScore, kReference, kTrain, kPublish, kPhases };
constexpr const char* kPhaseNames[kPhases] = {"generate", "score", "reference", "train", "publish"};

// The 3m preset's shape (plumb-model init --size 3m) on the tiny preset's 256-token context.
constexpr char kModelShape[] = "--hidden 256 --intermediate 640 --layers 4 --heads 4 --kv-heads 4";
constexpr float kLearningRate = 1e-4f;
constexpr uint64_t kTrainSeed = 1;

struct BenchOptions {
  int reps = 5;
  int warmup = 1;
  int threads = 1;
  int prompts = 8;
  int samples = 4;
  int new_tokens = 32;
  int epochs = 1;
};

// Seconds per phase and end to end; `inside` is what the serving process reported for its own
// part of each phase (services only).
struct StepTimes {
  std::array<double, kPhases> phase{};
  std::array<double, kPhases> inside{};
  double total = 0;
  uint64_t fingerprint = 0;  // of the response tokens: equal when both sides sampled the same
  uint64_t publish_bytes = 0;
};

// Thrown rather than exit(): unwinding stops the service processes and removes the folder.
[[noreturn]] void Die(const std::string& what) { throw std::runtime_error(what); }
void Check(const absl::Status& status, const std::string& what) {
  if (!status.ok()) Die(absl::StrCat(what, ": ", status.ToString()));
}
template <typename T>
T Take(absl::StatusOr<T> value, const std::string& what) {
  Check(value.status(), what);
  return *std::move(value);
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

uint64_t Mix(uint64_t hash, int64_t value) {  // FNV-1a step
  return (hash ^ static_cast<uint64_t>(value)) * 1099511628211ull;
}

std::string PromptText(int i) {
  static const char* kTexts[] = {"Tell me about your day.",           "What do you think of rain?",
                                 "Write a short poem about the sea.", "How do bees make honey?",
                                 "Explain why the sky is blue.",      "Give me a recipe for soup.",
                                 "What is your favourite book?",      "Describe a quiet morning."};
  return absl::StrCat(kTexts[i % 8], i >= 8 ? absl::StrCat(" (", i, ")") : "");
}

// The same model folders and YAML sections for both sides.
struct Setup {
  BenchOptions options;
  fs::path root;
  std::string generator_yaml, reference_yaml, scorer_yaml, learner_yaml;
  std::string policy_path() const { return (root / "policy").string(); }
  std::string RequestId(int step) const { return absl::StrCat("step-", step); }
  uint64_t Seed(int step) const { return 1000 + static_cast<uint64_t>(step); }
};

Setup MakeSetup(const BenchOptions& options) {
  Setup s;
  s.options = options;
  s.root = fs::temp_directory_path() / absl::StrCat("plumb_bench_ppo_step_", getpid());
  fs::create_directories(s.root);
  Check(testing::MakeTinyModel(s.policy_path(), absl::StrCat("--seed 1 ", kModelShape)), "policy");
  Check(testing::MakeTinyModel((s.root / "rm").string(),
                               absl::StrCat("--seed 3 --reward-outputs 1 ", kModelShape)),
        "reward model");
  const std::string threads = absl::StrCat(options.threads);
  s.generator_yaml =
      absl::StrCat("generator:\n  model: {path: policy}\n  threads: ", threads, "\n");
  s.reference_yaml =
      absl::StrCat("reference:\n  model: {path: policy}\n  threads: ", threads, "\n");
  s.scorer_yaml =
      "scorer:\n  objectives: [helpfulness, sentiment]\n  objective_options:\n"
      "    helpfulness: {kind: reward_model, path: rm}\n    sentiment: {kind: afinn}\n"
      "  composition: {weights: {helpfulness: 1.0, sentiment: 1.0}}\n";
  s.learner_yaml = absl::StrCat("learner:\n  threads: ", threads, "\n  model_roots: [\".\"]\n");
  return s;
}

config::ConfigMap Yaml(const Setup& s, const std::string& yaml, const std::string& name) {
  return Take(config::ConfigMap::FromString(yaml, (s.root / name).string()), name);
}

// The session both sides start: what a coordinator would send.
learner::SessionOptions SessionFor(const Setup& s) {
  learner::SessionOptions session = learner::SessionOptions::Defaults(learner::Algorithm::kPpo);
  session.ppo.epochs = s.options.epochs;
  session.optimizer.lr = kLearningRate;
  session.seed = kTrainSeed;
  session.policy_path = s.policy_path();
  return session;
}

// One step on either side: the same round function over that side's clients.
StepTimes RunStep(const Setup& s, const rounds::RoundClients& clients, const std::string& session,
                  const std::string& generator_endpoint, int step) {
  rounds::RoundSpec spec;
  spec.round_id = s.RequestId(step);
  spec.session_id = session;
  for (int i = 0; i < s.options.prompts; ++i) {
    spec.prompts.push_back({.id = absl::StrCat("p", i), .text = PromptText(i)});
  }
  spec.sampling.num_samples = s.options.samples;
  spec.sampling.seed = s.Seed(step);
  spec.sampling.max_new_tokens = s.options.new_tokens;
  spec.sampling.return_logprobs = true;
  spec.sampling.ignore_eos = true;
  spec.publish_to = std::vector<clients::PublishTarget>{{generator_endpoint, ""}};
  spec.call_timeout = absl::Seconds(300);
  const auto start = Clock::now();
  const rounds::RoundReport report =
      Take(rounds::RunPolicyGradientRound(clients, spec), absl::StrCat("step ", step));
  StepTimes t;
  t.total = Since(start);
  const rounds::PhaseSeconds& w = report.wall;
  const rounds::PhaseSeconds& in = report.inside;
  t.phase = {w.generate, w.score, w.reference, w.train, w.publish};
  t.inside = {in.generate, in.score, in.reference, in.train, in.publish};
  if (report.published.has_value()) {
    if (report.published->failed_targets != 0) {
      Die(absl::StrCat("publish: ", report.published->results[0].status.ToString()));
    }
    t.publish_bytes = report.published->bytes;
  }
  for (const auto& r : report.rollouts) {
    for (int64_t id : r.response_ids) t.fingerprint = Mix(t.fingerprint, id);
  }
  return t;
}

// ---- In one process: the cores, called through in-process clients. ----

class InProcessPpo {
 public:
  explicit InProcessPpo(const Setup& s)
      : setup_(s),
        learner_(
            Take(learner::Storage::Create({.checkpoint_root = (s.root / "checkpoints").string(),
                                           .model_roots = {s.root.string()}}),
                 "learner storage")) {
    config::ConfigMap root = Yaml(s, s.generator_yaml, "generator.yaml");
    generator::GeneratorOptions gen;
    Check(generator::ParseGeneratorSection(root, s.root.string(), &gen), "generator:");
    config::ConfigMap ref_root = Yaml(s, s.reference_yaml, "reference.yaml");
    reference::ReferenceOptions ref;
    Check(reference::ParseReferenceSection(ref_root, s.root.string(), &ref), "reference:");
    config::ConfigMap scorer_root = Yaml(s, s.scorer_yaml, "scorer.yaml");
    config::ConfigMap scorer_section = *Take(scorer_root.Child("scorer"), "scorer.yaml: scorer");
    const scorer::ScorerOptions scorer =
        Take(scorer::ParseScorerOptions(scorer_section, s.root.string()), "scorer:");

    generator_model_ = Take(weights::VersionedModel::Load(
                                gen.model_path, Take(model::ParsePlacement(gen.dtype, gen.device),
                                                     "generator placement")),
                            "generator model");
    std::shared_ptr<const tokenizer::Tokenizer> tokenizer =
        Take(tokenizer::LoadTokenizer(gen.tokenizer.empty() ? gen.model_path : gen.tokenizer),
             "tokenizer");
    generator_ = Take(generator::GeneratorCore::Create(generator_model_.get(), tokenizer,
                                                       gen.limits, &generator_registry_),
                      "GeneratorCore");
    reference_model_ = Take(weights::VersionedModel::Load(
                                ref.model_path, Take(model::ParsePlacement(ref.dtype, ref.device),
                                                     "reference placement")),
                            "reference model");
    reference_ = Take(reference::ReferenceCore::Create(reference_model_.get(), nullptr, ref.limits,
                                                       &reference_registry_),
                      "ReferenceCore");
    scorer_ = Take(scorer::Scorer::Create(scorer), "Scorer");

    generator_client_ = std::make_unique<bench::InProcessGenerator>(kGenerator, generator_.get());
    scorer_client_ = std::make_unique<bench::InProcessScorer>(scorer_.get());
    reference_client_ = std::make_unique<bench::InProcessReference>(reference_.get());
    learner_client_ = std::make_unique<bench::InProcessLearner>(
        &learner_,
        std::map<std::string, weights::VersionedModel*>{{kGenerator, generator_model_.get()}});
    session_ =
        Take(learner_client_->StartSession({.options = SessionFor(s), .replace_active = true}, {}),
             "StartSession")
            .id;
  }

  int64_t parameters() const {
    int64_t n = 0;
    for (const at::Tensor& p : generator_model_->Current()->model->parameters()) n += p.numel();
    return n;
  }

  StepTimes Step(int step) {
    return RunStep(setup_,
                   {{generator_client_.get()},
                    scorer_client_.get(),
                    reference_client_.get(),
                    learner_client_.get()},
                   session_, kGenerator, step);
  }

 private:
  static constexpr char kGenerator[] = "in-process:generator";
  const Setup& setup_;
  metrics::Registry generator_registry_, reference_registry_;
  std::unique_ptr<weights::VersionedModel> generator_model_, reference_model_;
  std::unique_ptr<generator::GeneratorCore> generator_;
  std::unique_ptr<reference::ReferenceCore> reference_;
  std::unique_ptr<scorer::Scorer> scorer_;
  learner::LearnerCore learner_;
  std::unique_ptr<clients::GeneratorClient> generator_client_;
  std::unique_ptr<clients::ScorerClient> scorer_client_;
  std::unique_ptr<clients::ReferenceClient> reference_client_;
  std::unique_ptr<clients::LearnerClient> learner_client_;
  std::string session_;
};

// ---- Over the services: the real binaries on loopback, through the gRPC clients. ----

class ServicePpo {
 public:
  explicit ServicePpo(const Setup& s) : setup_(s) {
    const std::string common =
        "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\nlogging: {level: warn}\n";
    for (const auto& [name, yaml] :
         {std::pair{"generator", &s.generator_yaml}, std::pair{"reference", &s.reference_yaml},
          std::pair{"scorer", &s.scorer_yaml}, std::pair{"learner", &s.learner_yaml}}) {
      const fs::path config = s.root / absl::StrCat(name, ".yaml");
      std::ofstream(config) << common << *yaml;
      if (std::string(name) == "learner") {
        // Weights may go to the generator started first, and nowhere else.
        std::ofstream(config, std::ios::app)
            << "  publish_targets: [\"" << services_[0].endpoint << "\"]\n";
      }
      services_.push_back(Take(
          testing::StartService(absl::StrCat("plumb-", name), config.string(), absl::Seconds(120)),
          name));
    }
    auto options = [](const testing::RunningService& service) {
      return rpc::ChannelOptions{.target = service.endpoint,
                                 .default_deadline = absl::Seconds(300)};
    };
    generator_ = Take(clients::NewGrpcGeneratorClient(options(services_[0])), "generator client");
    reference_ = Take(clients::NewGrpcReferenceClient(options(services_[1])), "reference client");
    scorer_ = Take(clients::NewGrpcScorerClient(options(services_[2])), "scorer client");
    learner_ = Take(clients::NewGrpcLearnerClient(options(services_[3])), "learner client");
    session_ = Take(learner_->StartSession({.options = SessionFor(s), .replace_active = true}, {}),
                    "StartSession")
                   .id;
  }

  StepTimes Step(int step) {
    return RunStep(setup_, {{generator_.get()}, scorer_.get(), reference_.get(), learner_.get()},
                   session_, services_[0].endpoint, step);
  }

 private:
  const Setup& setup_;
  std::vector<testing::RunningService> services_;  // generator, reference, scorer, learner
  std::unique_ptr<clients::GeneratorClient> generator_;
  std::unique_ptr<clients::ReferenceClient> reference_;
  std::unique_ptr<clients::ScorerClient> scorer_;
  std::unique_ptr<clients::LearnerClient> learner_;
  std::string session_;
};

// Exits (0 after --help, 2 on a bad flag) when the command line asks for no run.
BenchOptions ParseArgs(int argc, char** argv) {
  BenchOptions o;
  CLI::App app(
      "One PPO step over the four real services beside the same step in one process (RPC "
      "overhead; scripts/bench.sh ppo).",
      "plumb-bench-ppo-step");
  app.add_option("--reps", o.reps, "Measured steps of each kind")->check(CLI::Range(1, 1000));
  app.add_option("--warmup", o.warmup, "Unmeasured steps first")->check(CLI::Range(0, 1000));
  app.add_option("--threads", o.threads, "LibTorch threads per process")->check(CLI::Range(1, 256));
  app.add_option("--prompts", o.prompts, "Prompts per step")->check(CLI::Range(1, 4096));
  app.add_option("--samples", o.samples, "Samples per prompt")->check(CLI::Range(1, 64));
  app.add_option("--new-tokens", o.new_tokens, "New tokens per sample")->check(CLI::Range(1, 4096));
  app.add_option("--epochs", o.epochs, "PPO epochs")->check(CLI::Range(1, 100));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return o;
}

std::string Ms(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", 1e3 * seconds);
  return text;
}

void Report(const Setup& s, int64_t parameters, const std::vector<StepTimes>& local,
            const std::vector<StepTimes>& remote) {
  auto median = [](const std::vector<StepTimes>& steps, auto field) {
    std::vector<double> values;
    for (const StepTimes& t : steps) values.push_back(field(t));
    return Median(values);
  };
  std::vector<double> paired;
  int identical = 0;
  for (size_t i = 0; i < local.size(); ++i) {
    paired.push_back((remote[i].total - local[i].total) / remote[i].total);
    identical += local[i].fingerprint == remote[i].fingerprint ? 1 : 0;
  }
  const BenchOptions& o = s.options;
  std::printf(
      "PPO step: policy %.2fM parameters (reward model the same shape), %d prompts x %d samples, "
      "%d new tokens, %d PPO epoch(s), %d LibTorch thread(s) per process, %.1f MB of float32 "
      "weights per publish; medians of %d steps per side after %d warm-up\n\n",
      parameters / 1e6, o.prompts, o.samples, o.new_tokens, o.epochs, o.threads,
      remote.empty() ? 0.0 : remote[0].publish_bytes / 1e6, o.reps, o.warmup);
  std::printf(
      "| phase | in one process (ms) | over services, client (ms) | of which inside the service "
      "(ms) | services - in-process (ms) |\n|---|---|---|---|---|\n");
  for (int p = 0; p < kPhases; ++p) {
    const double a = median(local, [p](const StepTimes& t) { return t.phase[p]; });
    const double b = median(remote, [p](const StepTimes& t) { return t.phase[p]; });
    const double in = median(remote, [p](const StepTimes& t) { return t.inside[p]; });
    // The scorer client's answer carries no service-side time.
    std::printf("| %s | %s | %s | %s | %s |\n", kPhaseNames[p], Ms(a).c_str(), Ms(b).c_str(),
                p == kScore ? "-" : Ms(in).c_str(), Ms(b - a).c_str());
  }
  const double a = median(local, [](const StepTimes& t) { return t.total; });
  const double b = median(remote, [](const StepTimes& t) { return t.total; });
  std::printf("| **step, end to end** | %s | %s | - | %s |\n\n", Ms(a).c_str(), Ms(b).c_str(),
              Ms(b - a).c_str());
  std::sort(paired.begin(), paired.end());
  std::printf(
      "RPC overhead = (services - in-process) / services = %.1f%% of the step (goal <= 10%%: %s); "
      "per step pair: median %.1f%%, range %.1f%% .. %.1f%%\n",
      100 * (b - a) / b, (b - a) / b <= 0.10 ? "met" : "NOT met", 100 * Median(paired),
      100 * paired.front(), 100 * paired.back());
  // Within one call the client's and the server's clocks see the same machine load, so
  // client - inside is the transport and proto conversion of that call, whatever else runs.
  double edges = 0;
  for (int p = kGenerate; p < kPublish; ++p) {
    if (p == kScore) continue;  // no service-side time to subtract
    edges += median(remote, [p](const StepTimes& t) { return t.phase[p] - t.inside[p]; });
  }
  const double publish = median(remote, [](const StepTimes& t) { return t.phase[kPublish]; }) -
                         median(local, [](const StepTimes& t) { return t.phase[kPublish]; });
  std::printf(
      "attributable to RPC: generate, reference, train: client - inside the same call = %s ms; "
      "publish, "
      "gRPC stream - in-process copy = %s ms; together %.1f%% of the services' step\n",
      Ms(edges).c_str(), Ms(publish).c_str(), 100 * (edges + publish) / b);
  std::printf("rollouts identical on both sides (same work): %d of %zu measured steps\n", identical,
              local.size());
}

int Run(int argc, char** argv) {
  const BenchOptions options = ParseArgs(argc, argv);
  // Equal threads on both sides. at::set_num_threads (what the services' `threads` keys do)
  // reaches LibTorch's own parallel loops but not the OpenMP count of the threads it did not
  // start: a core's runner thread or a gRPC thread keeps OpenMP's start-up default
  // (OMP_NUM_THREADS, else every core), and OpenBLAS sizes its GEMMs by it. So every process
  // starts with OMP_NUM_THREADS = --threads: the services inherit it, this one restarts with it.
  const std::string threads = absl::StrCat(options.threads);
  const char* omp_threads = std::getenv("OMP_NUM_THREADS");
  if (omp_threads == nullptr || threads != omp_threads) {
    setenv("OMP_NUM_THREADS", threads.c_str(), 1);
    execv("/proc/self/exe", argv);
    Die("could not restart with OMP_NUM_THREADS set");
  }
  // As the services: their `threads` keys, and ServiceHost's malloc settings.
  at::set_num_threads(options.threads);
  service::TuneMallocForLargeBuffers();
  const Setup setup = MakeSetup(options);
  struct RemoveOnExit {
    fs::path dir;
    ~RemoveOnExit() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove_on_exit{setup.root};
  int64_t parameters = 0;
  std::vector<StepTimes> local, remote;
  {
    ServicePpo services(setup);
    InProcessPpo in_process(setup);
    parameters = in_process.parameters();
    for (int step = 0; step < options.warmup + options.reps; ++step) {
      StepTimes a, b;
      if (step % 2 == 0) {
        a = in_process.Step(step);
        b = services.Step(step);
      } else {
        b = services.Step(step);
        a = in_process.Step(step);
      }
      // Per step on stderr: on this noisy machine single phases jump by tens of percent.
      std::fprintf(stderr, "step %d%s\n", step,
                   a.fingerprint == b.fingerprint ? "" : " (the sides' rollouts differ)");
      for (const auto& [side, t] :
           {std::pair{"in one process", &a}, std::pair{"over services", &b}}) {
        std::fprintf(stderr, "  %s: %.1f ms (", side, 1e3 * t->total);
        for (int p = 0; p < kPhases; ++p) {
          std::fprintf(stderr, "%s%s %.1f", p == 0 ? "" : ", ", kPhaseNames[p], 1e3 * t->phase[p]);
        }
        std::fprintf(stderr, ")\n");
      }
      if (step < options.warmup) continue;
      local.push_back(a);
      remote.push_back(b);
    }
  }
  Report(setup, parameters, local, remote);
  return 0;
}

}  // namespace
}  // namespace plumb

int main(int argc, char** argv) {
  try {
    return plumb::Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plumb-bench-ppo-step: %s\n", e.what());
    return 1;
  }
}
