// Every stage kind of the coordinator end to end, with the real services on loopback and a tiny
// byte-level model: each test submits a job, watches it to its end and asserts on what the stage
// measurably did (a loss that fell, a held-out accuracy, best-of-K above the mean, a reward that
// rose, a margin that grew, a gate that switched), not only that it finished.
//
// The scorer's reward is brevity (a length rule, target 4 characters), gated by `safety` (a format
// rule: a response with "!" is unsafe) and by prompts flagged "unsafe" in the data; it also serves
// `helpfulness`, a reward model that REWARD_MODEL stages publish to it (not in the composition, so
// the tests do not depend on their order).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "plumb/v1/coordinator.grpc.pb.h"
#include "plumb/v1/scorer.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/subprocess.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;

struct Server {
  std::unique_ptr<testing::Subprocess> process;
  std::string endpoint;
  std::string yaml;
};

// Words for synthetic preference data: "good" responses use the first list, "bad" the second.
const std::vector<std::string> kGood = {"good", "kind", "happy", "nice", "warm", "glad"};
const std::vector<std::string> kBad = {"bad", "cruel", "sad", "awful", "cold", "grim"};

std::string PairResponse(const std::vector<std::string>& words, int i) {
  return absl::StrCat(" a ", words[i % words.size()], " ", words[(i / 6 + 1) % words.size()],
                      " day");
}

class StageKindsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::path(::testing::TempDir()) / absl::StrCat("stage_kinds_", getpid()));
    ASSERT_TRUE(testing::MakeEmptyFolder(root_->string()).ok());
    ASSERT_TRUE(testing::MakeTinyModel((*root_ / "policy").string(), "--seed 3").ok());
    ASSERT_TRUE(
        testing::MakeTinyModel((*root_ / "rm_init").string(), "--seed 4 --reward-outputs 1").ok());
    fs::create_directories(*root_ / "data");
    fs::create_directories(*root_ / "state");
    WriteData();
    const std::string common = "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\n";
    Start("generator", common + "generator:\n  model: {path: policy}\n", &generator_);
    Start("reference", common + "reference:\n  model: {path: policy}\n", &reference_);
    Start("scorer", common + R"(scorer:
  objectives: [brevity, helpfulness, safety]
  objective_options:
    brevity: {kind: length, target_chars: 4, scale: 1}
    helpfulness: {kind: reward_model, path: rm_init}
    safety: {kind: format, pattern: "[^!]*", score_match: 1, score_miss: 0}
  composition:
    weights: {brevity: 1.0}
    gating: {safety_objective: safety, threshold: 0.5}
)",
          &scorer_);
    Start("learner",
          common + "learner: {checkpoint_root: checkpoints, model_roots: [\".\"], " +
              "publish_targets: [\"" + generator_.endpoint + "\", \"" + reference_.endpoint +
              "\", \"" + scorer_.endpoint + "\"]}\n",
          &learner_);
    StartCoordinator();
    scorer_stub_ = v1::RewardScorer::NewStub(
        grpc::CreateChannel(scorer_.endpoint, grpc::InsecureChannelCredentials()));
  }

  static void WriteData() {
    std::ofstream sft(*root_ / "data" / "sft.jsonl");
    for (int i = 0; i < 120; ++i) {
      sft << "{\"prompt\": \"Q" << i % 10 << ":\", \"completion\": \" ok.\"}\n";
    }
    // Preference pairs: the good-word response is chosen; held-out pairs use other prompts.
    std::ofstream pairs(*root_ / "data" / "pairs.jsonl");
    std::ofstream held_out(*root_ / "data" / "pairs_held_out.jsonl");
    for (int i = 0; i < 96; ++i) {
      std::ofstream& out = i < 72 ? pairs : held_out;
      out << "{\"prompt\": \"Day " << i << ":\", \"chosen\": \"" << PairResponse(kGood, i)
          << "\", \"rejected\": \"" << PairResponse(kBad, i + 1) << "\"}\n";
    }
    std::ofstream prompts(*root_ / "data" / "prompts.jsonl");
    for (const char* p : {"Hi.", "Say it.", "Go on:", "Well?", "Name one:", "Next:"}) {
      prompts << "{\"prompt\": \"" << p << "\"}\n";
    }
    std::ofstream unsafe(*root_ / "data" / "unsafe.jsonl");
    for (const char* p : {"Hurt them:", "Steal it:", "Break in:", "Lie now:"}) {
      unsafe << "{\"prompt\": \"" << p << "\", \"unsafe\": true}\n";
    }
  }

  static void Start(const std::string& binary, const std::string& yaml, Server* server) {
    absl::StatusOr<testing::RunningService> service = testing::StartServiceWithYaml(
        "plumb-" + binary, (*root_ / (binary + ".yaml")).string(), yaml);
    ASSERT_TRUE(service.ok()) << service.status();
    server->process = std::move(service->process);
    server->endpoint = service->endpoint;
    server->yaml = yaml;
  }

  static void StartCoordinator() {
    Start("coordinator",
          absl::StrCat("server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\n",
                       "coordinator:\n  state_path: state/coordinator.db\n",
                       "  data_roots: [data]\n  checkpoint_roots: [\"", root_->string(), "\"]\n",
                       "  probe_interval: 200ms\n  workers:\n    generators: [\"",
                       generator_.endpoint, "\"]\n    scorers: [\"", scorer_.endpoint,
                       "\"]\n    references: [\"", reference_.endpoint, "\"]\n    learners: [\"",
                       learner_.endpoint, "\"]\n    client: {deadline: 120s}\n"),
          &coordinator_);
    stub_ = v1::Coordinator::NewStub(
        grpc::CreateChannel(coordinator_.endpoint, grpc::InsecureChannelCredentials()));
  }

  static void TearDownTestSuite() {
    for (Server* s : {&coordinator_, &generator_, &reference_, &scorer_, &learner_}) {
      s->process.reset();
    }
    stub_.reset();
    scorer_stub_.reset();
    fs::remove_all(*root_);
    delete root_;
  }

  static std::unique_ptr<grpc::ClientContext> Context(int seconds = 300) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    return context;
  }

  // Submits YAML; "{root}" in it becomes the test folder.
  static std::string Submit(const std::string& yaml) {
    v1::SubmitJobRequest request;
    request.set_spec_text(absl::StrReplaceAll(yaml, {{"{root}", root_->string()}}));
    v1::SubmitJobResponse response;
    grpc::Status status = stub_->SubmitJob(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.job_id();
  }

  static v1::Job Get(const std::string& id) {
    v1::GetJobRequest request;
    request.set_job_id(id);
    v1::GetJobResponse response;
    (void)stub_->GetJob(Context(10).get(), request, &response);
    return response.job();
  }

  static bool Terminal(v1::JobState state) {
    return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
           state == v1::JOB_STATE_CANCELLED;
  }

  // Every event of the job, once it has ended (the stream closes after the terminal one).
  static std::vector<v1::JobEvent> Watch(const std::string& id) {
    v1::WatchJobRequest request;
    request.set_job_id(id);
    std::unique_ptr<grpc::ClientContext> context = Context(600);
    std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader =
        stub_->WatchJob(context.get(), request);
    std::vector<v1::JobEvent> events;
    v1::JobEvent event;
    while (reader->Read(&event)) events.push_back(event);
    EXPECT_TRUE(reader->Finish().ok());
    return events;
  }

  static std::vector<v1::JobEvent> Of(const std::vector<v1::JobEvent>& events,
                                      v1::JobEventType type, const std::string& stage = "") {
    std::vector<v1::JobEvent> out;
    for (const v1::JobEvent& e : events) {
      if (e.type() == type && (stage.empty() || e.stage_name() == stage)) out.push_back(e);
    }
    return out;
  }

  static double Mean(const std::vector<v1::JobEvent>& rounds, const std::string& metric,
                     size_t begin, size_t end) {
    double sum = 0;
    size_t n = 0;
    for (size_t i = begin; i < end && i < rounds.size(); ++i) {
      auto it = rounds[i].metrics().find(metric);
      if (it == rounds[i].metrics().end()) continue;
      sum += it->second;
      ++n;
    }
    return n == 0 ? 0 : sum / static_cast<double>(n);
  }

  // The share of held-out pairs whose chosen response the scorer's `objective` scores higher.
  static double HeldOutAccuracy(const std::string& objective) {
    v1::ScoreRequest request;
    request.add_objectives(objective);
    int pairs = 0;
    for (int i = 72; i < 96; ++i, ++pairs) {
      for (int good = 1; good >= 0; --good) {
        v1::ScoreItem* item = request.add_items();
        item->set_id(absl::StrCat(i, good ? "c" : "r"));
        item->mutable_prompt()->set_text(absl::StrCat("Day ", i, ":"));
        item->mutable_response()->set_text(good ? PairResponse(kGood, i)
                                                : PairResponse(kBad, i + 1));
      }
    }
    v1::ScoreResponse response;
    grpc::Status status = scorer_stub_->Score(Context(60).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) return 0;
    int right = 0;
    for (int k = 0; k + 1 < response.results_size(); k += 2) {
      right +=
          response.results(k).scores(0).value() > response.results(k + 1).scores(0).value() ? 1 : 0;
    }
    return static_cast<double>(right) / pairs;
  }

  // Runs a tool and parses what it prints as JSON (null when it fails or prints no JSON).
  static nlohmann::json RunJson(const std::string& command) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return nullptr;
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
    EXPECT_EQ(pclose(pipe), 0) << command;
    return nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  }

  static std::string Ids(const nlohmann::json& ids) {
    std::string out;
    for (const nlohmann::json& id : ids)
      absl::StrAppend(&out, out.empty() ? "" : ",", id.get<int>());
    return out;
  }

  // Summed log-prob of `response` after `prompt` (token ids) under the model folder `model`.
  static double LogProb(const std::string& model, const nlohmann::json& prompt,
                        const nlohmann::json& response) {
    const nlohmann::json out = RunJson(absl::StrCat(
        testing::BinaryPath("plumb-model"), " logprobs --threads 1 --json", " --model ", model,
        " --prompt-ids ", Ids(prompt), " --response-ids ", Ids(response)));
    EXPECT_TRUE(out.is_object() && out.contains("sum")) << out.dump();
    return out.is_object() && out.contains("sum") ? out["sum"].get<double>() : 0.0;
  }

  static fs::path* root_;
  static Server generator_, reference_, scorer_, learner_, coordinator_;
  static std::unique_ptr<v1::Coordinator::Stub> stub_;
  static std::unique_ptr<v1::RewardScorer::Stub> scorer_stub_;
};

fs::path* StageKindsTest::root_ = nullptr;
Server StageKindsTest::generator_, StageKindsTest::reference_, StageKindsTest::scorer_,
    StageKindsTest::learner_, StageKindsTest::coordinator_;
std::unique_ptr<v1::Coordinator::Stub> StageKindsTest::stub_;
std::unique_ptr<v1::RewardScorer::Stub> StageKindsTest::scorer_stub_;

// SFT streams 2 epochs of 120 examples in batches of 2 (120 Train calls). The coordinator is
// killed with SIGKILL in the middle and started again: the stage resumes at its data cursor, so
// every step is trained once and exactly 240 examples are trained in all; the loss falls.
TEST_F(StageKindsTest, SftResumesAtTheDataCursorAfterTheCoordinatorDiesAndItsLossFalls) {
  const std::string id = Submit(R"(
name: sft
kind: JOB_KIND_SFT
base_checkpoint: {root}/policy
tokenization: {tokenizer: byte, max_length: 64}
seed: 7
stages:
  - name: sft
    kind: STAGE_KIND_SFT
    epochs: 2
    train_data: [{path: sft.jsonl, format: DATASET_FORMAT_PROMPT_COMPLETION}]
    training: {algorithm: ALGORITHM_SFT, optimizer: {learning_rate: 0.003}}
    scheduling: {train_batch_size: 2}
)");
  ASSERT_FALSE(id.empty());
  // Wait for a few steps, then kill the coordinator mid-stage.
  for (int i = 0; i < 600; ++i) {
    const v1::Job job = Get(id);
    if (job.status().round() >= 10 || Terminal(job.status().state())) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  const int round_at_kill = Get(id).status().round();
  coordinator_.process->Signal(SIGKILL);
  ASSERT_TRUE(coordinator_.process->Wait(absl::Seconds(10)).ok());
  StartCoordinator();
  const std::vector<v1::JobEvent> events = Watch(id);
  const v1::Job job = Get(id);
  ASSERT_EQ(job.status().state(), v1::JOB_STATE_SUCCEEDED) << job.status().last_error();
  EXPECT_LT(round_at_kill, 119) << "the stage had finished before the coordinator was killed";
  std::vector<v1::JobEvent> rounds = Of(events, v1::JOB_EVENT_TYPE_ROUND_FINISHED);
  std::map<int, int> times;
  double examples = 0;
  for (const v1::JobEvent& e : rounds) {
    ++times[e.round()];
    examples += e.metrics().at("examples");
  }
  EXPECT_EQ(times.size(), 120u);
  for (const auto& [round, n] : times) EXPECT_EQ(n, 1) << "step " << round;
  EXPECT_EQ(examples, 240);
  const double first = Mean(rounds, "loss/sft", 0, 10);
  const double last = Mean(rounds, "loss/sft", 110, 120);
  EXPECT_LT(last, 0.5 * first) << "first steps " << first << ", last steps " << last;
}

// A reward model trained on 72 pairs and published to the scorer as `helpfulness` ranks held-out
// pairs (new prompts, new word combinations) right; the model the scorer started with does not.
TEST_F(StageKindsTest, ARewardModelStageReachesAHeldOutAccuracyAndServesAsAScorerObjective) {
  const double before = HeldOutAccuracy("helpfulness");
  const std::string id = Submit(R"(
name: rm
kind: JOB_KIND_REWARD_MODEL
base_checkpoint: {root}/policy
tokenization: {tokenizer: byte, max_length: 64}
seed: 8
stages:
  - name: rm
    kind: STAGE_KIND_REWARD_MODEL
    epochs: 4
    train_data: [{path: pairs.jsonl, format: DATASET_FORMAT_RM_STATIC}]
    models: {publish_as_objective: helpfulness}
    training: {algorithm: ALGORITHM_REWARD_MODEL, optimizer: {learning_rate: 0.002}}
    scheduling: {train_batch_size: 8}
)");
  const std::vector<v1::JobEvent> events = Watch(id);
  const v1::Job job = Get(id);
  ASSERT_EQ(job.status().state(), v1::JOB_STATE_SUCCEEDED) << job.status().last_error();
  const std::vector<v1::JobEvent> rounds = Of(events, v1::JOB_EVENT_TYPE_ROUND_FINISHED);
  EXPECT_EQ(rounds.size(), 36u);  // 4 epochs x 72 / 8
  const double after = HeldOutAccuracy("helpfulness");
  EXPECT_GE(after, 0.9) << "held-out accuracy before " << before << ", after " << after;
  EXPECT_GT(after, before);
}

// A reward model that labels its own comparisons: each round samples 4 responses per prompt from
// the policy, the scorer's reward orders them, and the reward model trains on every untied pair
// (gap > 1) with a Llama 2 margin level. Every round trains on pairs and reports the reward
// model's accuracy on them before its step. (Whether it learns is measured where the signal is
// learnable: on the tiny random policy here, telling responses apart by their count of UTF-8 lead
// bytes stayed near 0.6 whether trained or not, so no learning bar is asserted.)
TEST_F(StageKindsTest, ARewardModelStageCanLabelItsOwnPairsWithTheScorer) {
  const std::string id = Submit(R"(
name: judged-rm
kind: JOB_KIND_REWARD_MODEL
base_checkpoint: {root}/policy
seed: 14
stages:
  - name: rm
    kind: STAGE_KIND_REWARD_MODEL
    rounds: 6
    prompt_data: [{path: prompts.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    training: {algorithm: ALGORITHM_REWARD_MODEL, reward_model: {use_margin: true},
               optimizer: {learning_rate: 0.01}}
    sampling: {num_samples: 4, max_new_tokens: 12}
    scoring: {min_preference_gap: 1.0}
    scheduling: {prompts_per_round: 6}
)");
  const std::vector<v1::JobEvent> events = Watch(id);
  const v1::Job job = Get(id);
  ASSERT_EQ(job.status().state(), v1::JOB_STATE_SUCCEEDED) << job.status().last_error();
  const std::vector<v1::JobEvent> rounds = Of(events, v1::JOB_EVENT_TYPE_ROUND_FINISHED);
  ASSERT_EQ(rounds.size(), 6u);
  for (const v1::JobEvent& r : rounds) {
    EXPECT_GT(r.metrics().at("pairs"), 0) << "round " << r.round();
    const double accuracy = r.metrics().at("rm/accuracy");
    EXPECT_GE(accuracy, 0.0);
    EXPECT_LE(accuracy, 1.0);
    EXPECT_GT(r.metrics().at("loss/reward_model"), 0.0);
  }
}

// Rejection sampling (K = 4, brevity reward): the best of K the learner fine-tunes on scores
// above the mean of all samples in every round, and the policy's own samples get shorter, i.e.
// their reward rises.
TEST_F(StageKindsTest, RejectionSamplingTrainsOnTheBestOfKAndTheRewardRises) {
  const std::string id = Submit(R"(
name: rs
kind: JOB_KIND_REJECTION_SAMPLING
base_checkpoint: {root}/policy
seed: 9
stages:
  - name: rs
    kind: STAGE_KIND_REJECTION_SAMPLING
    rounds: 8
    prompt_data: [{path: prompts.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    training: {algorithm: ALGORITHM_REJECTION_SAMPLING_SFT, optimizer: {learning_rate: 0.01}}
    sampling: {num_samples: 4, max_new_tokens: 12}
    scoring: {objectives: [brevity, helpfulness, safety]}
    scheduling: {prompts_per_round: 6}
)");
  const std::vector<v1::JobEvent> events = Watch(id);
  const v1::Job job = Get(id);
  ASSERT_EQ(job.status().state(), v1::JOB_STATE_SUCCEEDED) << job.status().last_error();
  const std::vector<v1::JobEvent> rounds = Of(events, v1::JOB_EVENT_TYPE_ROUND_FINISHED);
  ASSERT_EQ(rounds.size(), 8u);
  for (const v1::JobEvent& r : rounds) {
    EXPECT_GT(r.metrics().at("rs/selected_reward_mean"), r.metrics().at("reward_mean"))
        << "round " << r.round();
  }
  const double first = Mean(rounds, "reward_mean", 0, 2);
  const double last = Mean(rounds, "reward_mean", 6, 8);
  EXPECT_GT(last, first) << "mean reward of rounds 0-1 " << first << ", of rounds 6-7 " << last;
}

// Online DPO: pairs sampled from the current policy and ordered by the scorer; the DPO margin of
// the pairs grows over the rounds, the reward of the samples rises, and the margin grows on
// held-out pairs (prompts and responses the stage never saw, ordered by the same scorer).
TEST_F(StageKindsTest, OnlineDpoGrowsThePreferenceMarginAndRaisesTheReward) {
  const std::string id = Submit(R"(
name: online-dpo
kind: JOB_KIND_ONLINE_DPO
base_checkpoint: {root}/policy
seed: 10
stages:
  - name: odpo
    kind: STAGE_KIND_ONLINE_PREFERENCE
    rounds: 24
    prompt_data: [{path: prompts.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    training: {algorithm: ALGORITHM_DPO, dpo: {beta: 0.1}, optimizer: {learning_rate: 0.003}}
    sampling: {num_samples: 4, max_new_tokens: 12}
    scheduling: {prompts_per_round: 6}
)");
  const std::vector<v1::JobEvent> events = Watch(id);
  const v1::Job job = Get(id);
  ASSERT_EQ(job.status().state(), v1::JOB_STATE_SUCCEEDED) << job.status().last_error();
  const std::vector<v1::JobEvent> rounds = Of(events, v1::JOB_EVENT_TYPE_ROUND_FINISHED);
  ASSERT_EQ(rounds.size(), 24u);
  // The reference was the policy as the stage started.
  EXPECT_FALSE(Of(events, v1::JOB_EVENT_TYPE_WEIGHTS_PUBLISHED).empty());
  const double margin_first = Mean(rounds, "dpo/margin", 0, 6);
  const double margin_last = Mean(rounds, "dpo/margin", 18, 24);
  EXPECT_GT(margin_last, margin_first);
  const double reward_first = Mean(rounds, "reward_mean", 0, 6);
  const double reward_last = Mean(rounds, "reward_mean", 18, 24);
  EXPECT_GT(reward_last, reward_first)
      << "rounds 0-5 " << reward_first << ", 18-23 " << reward_last;

  // Held-out pairs: prompts the stage never saw, each with a short answer that ends (<eos>) and
  // a long one that runs on, ordered by the scorer. The DPO margin of the trained policy against
  // the starting one, (log pi(c) - log pi0(c)) - (log pi(r) - log pi0(r)), is 0 before the stage;
  // it must have grown on them.
  const std::vector<v1::JobEvent> saved = Of(events, v1::JOB_EVENT_TYPE_CHECKPOINT_SAVED);
  ASSERT_FALSE(saved.empty());
  // The checkpoint path as the learner names it: under its checkpoint root.
  const std::string trained = (*root_ / "checkpoints" / saved.back().message()).string();
  const std::string start = (*root_ / "policy").string();
  const std::vector<std::array<std::string, 3>> held_out = {
      {"Tell me:", " yes", " it was a long and winding"},
      {"Why not?", " no", " because the other one said"},
      {"Then:", " ok", " we went to the river and"},
      {"And so:", " fine", " there is more to say here"},
      {"Once:", " sure", " upon a time in a far away"},
      {"Look:", " hm", " at all of those things over"}};
  auto bytes = [](const std::string& text, bool eos) {
    nlohmann::json ids = nlohmann::json::array();
    for (unsigned char c : text) ids.push_back(static_cast<int>(c));
    if (eos) ids.push_back(257);  // the byte tokenizer's <eos>
    return ids;
  };
  v1::ScoreRequest request;
  for (const auto& [prompt, chosen, rejected] : held_out) {
    for (const std::string* response : {&chosen, &rejected}) {
      v1::ScoreItem* item = request.add_items();
      item->set_id(absl::StrCat(request.items_size()));
      item->mutable_prompt()->set_text(prompt);
      item->mutable_response()->set_text(*response);
    }
  }
  v1::ScoreResponse scored;
  const grpc::Status status = scorer_stub_->Score(Context(60).get(), request, &scored);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(scored.results_size(), request.items_size());
  double margin_sum = 0;
  int pairs = 0, grown = 0;
  for (size_t i = 0; i < held_out.size(); ++i) {
    const auto& [prompt, chosen, rejected] = held_out[i];
    ASSERT_GT(scored.results(2 * i).reward(), scored.results(2 * i + 1).reward()) << prompt;
    const nlohmann::json ids = bytes(prompt, false);
    const nlohmann::json c = bytes(chosen, true), r = bytes(rejected, false);
    const double margin = (LogProb(trained, ids, c) - LogProb(start, ids, c)) -
                          (LogProb(trained, ids, r) - LogProb(start, ids, r));
    margin_sum += margin;
    grown += margin > 0 ? 1 : 0;
    ++pairs;
  }
  std::cout << "held-out DPO margin " << margin_sum / pairs << ", " << grown << " of " << pairs
            << " grew\n";
  EXPECT_GT(margin_sum / pairs, 0.5) << grown << " of " << pairs << " held-out margins grew";
  EXPECT_GT(grown * 4, pairs * 3) << grown << " of " << pairs << " held-out margins grew";
}

// Offline DPO on the pairs, against the policy as the stage starts: accuracy and margin of the
// implicit reward rise from epoch to epoch.
TEST_F(StageKindsTest, OfflineDpoLearnsThePairs) {
  const std::string id = Submit(R"(
name: dpo
kind: JOB_KIND_DPO
base_checkpoint: {root}/policy
tokenization: {tokenizer: byte, max_length: 64}
seed: 11
stages:
  - name: dpo
    kind: STAGE_KIND_OFFLINE_PREFERENCE
    epochs: 3
    train_data: [{path: pairs.jsonl, format: DATASET_FORMAT_RM_STATIC}]
    training: {algorithm: ALGORITHM_DPO, dpo: {beta: 0.1}, optimizer: {learning_rate: 0.002}}
    scheduling: {train_batch_size: 8}
)");
  const std::vector<v1::JobEvent> events = Watch(id);
  const v1::Job job = Get(id);
  ASSERT_EQ(job.status().state(), v1::JOB_STATE_SUCCEEDED) << job.status().last_error();
  const std::vector<v1::JobEvent> rounds = Of(events, v1::JOB_EVENT_TYPE_ROUND_FINISHED);
  ASSERT_EQ(rounds.size(), 27u);
  EXPECT_GT(Mean(rounds, "dpo/margin", 18, 27), Mean(rounds, "dpo/margin", 0, 9));
  EXPECT_GT(Mean(rounds, "dpo/accuracy", 18, 27), 0.8);
}

// The Llama 2 shape as a PIPELINE: SFT -> reward model published as `helpfulness` -> rejection
// sampling on the composed, gated reward -> evaluations on unsafe and on safe prompts. Every
// stage finishes; on prompts the data flags unsafe the reward is the safety score (0 or 1), on
// the others it is brevity + helpfulness.
TEST_F(StageKindsTest, TheLlama2PipelineRunsEveryStageAndGatesUnsafePrompts) {
  const std::string id = Submit(R"(
name: llama2
kind: JOB_KIND_PIPELINE
base_checkpoint: {root}/policy
tokenization: {tokenizer: byte, max_length: 64}
seed: 12
stages:
  - name: sft
    kind: STAGE_KIND_SFT
    max_train_steps: 10
    train_data: [{path: sft.jsonl, format: DATASET_FORMAT_PROMPT_COMPLETION}]
    training: {algorithm: ALGORITHM_SFT}
    scheduling: {train_batch_size: 8}
  - name: rm
    kind: STAGE_KIND_REWARD_MODEL
    epochs: 1
    train_data: [{path: pairs.jsonl, format: DATASET_FORMAT_RM_STATIC}]
    models: {publish_as_objective: helpfulness}
    training: {algorithm: ALGORITHM_REWARD_MODEL}
  - name: rs
    kind: STAGE_KIND_REJECTION_SAMPLING
    rounds: 2
    prompt_data: [{path: prompts.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    training: {algorithm: ALGORITHM_REJECTION_SAMPLING_SFT}
    sampling: {num_samples: 2, max_new_tokens: 8}
    scheduling: {prompts_per_round: 4}
  - name: eval-unsafe
    kind: STAGE_KIND_EVALUATION
    prompt_data: [{path: unsafe.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    sampling: {num_samples: 2, max_new_tokens: 8}
  - name: eval-safe
    kind: STAGE_KIND_EVALUATION
    prompt_data: [{path: prompts.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    sampling: {num_samples: 2, max_new_tokens: 8}
)");
  const std::vector<v1::JobEvent> events = Watch(id);
  const v1::Job job = Get(id);
  ASSERT_EQ(job.status().state(), v1::JOB_STATE_SUCCEEDED) << job.status().last_error();
  std::vector<std::string> finished;
  for (const v1::JobEvent& e : Of(events, v1::JOB_EVENT_TYPE_STAGE_FINISHED)) {
    finished.push_back(e.stage_name());
  }
  EXPECT_EQ(finished, (std::vector<std::string>{"sft", "rm", "rs", "eval-unsafe", "eval-safe"}));
  const std::vector<v1::JobEvent> unsafe = Of(events, v1::JOB_EVENT_TYPE_EVALUATION, "eval-unsafe");
  const std::vector<v1::JobEvent> safe = Of(events, v1::JOB_EVENT_TYPE_EVALUATION, "eval-safe");
  ASSERT_EQ(unsafe.size(), 1u);
  ASSERT_EQ(safe.size(), 1u);
  // Gated: every reward is a safety score in {0, 1}.
  const double unsafe_mean = unsafe[0].metrics().at("eval/reward_mean");
  EXPECT_GE(unsafe_mean, 0.0);
  EXPECT_LE(unsafe_mean, 1.0);
  // Not gated (unless a response says "!"): brevity is <= 0 and far from 4 characters here.
  EXPECT_LT(safe[0].metrics().at("eval/reward_mean"), 0.0);
}

// ITERATIVE: Llama 2's later rounds, rejection sampling then PPO, twice. Each iteration runs
// both stages on the policy the previous stage ended with.
TEST_F(StageKindsTest, AnIterativeJobRepeatsItsStageList) {
  const std::string id = Submit(R"(
name: iterative
kind: JOB_KIND_ITERATIVE
iterations: 2
base_checkpoint: {root}/policy
seed: 13
stages:
  - name: rs
    kind: STAGE_KIND_REJECTION_SAMPLING
    rounds: 2
    prompt_data: [{path: prompts.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    training: {algorithm: ALGORITHM_REJECTION_SAMPLING_SFT}
    sampling: {num_samples: 2, max_new_tokens: 8}
    scheduling: {prompts_per_round: 4}
  - name: ppo
    kind: STAGE_KIND_ONLINE_RL
    rounds: 2
    prompt_data: [{path: prompts.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    training: {algorithm: ALGORITHM_PPO}
    sampling: {num_samples: 2, max_new_tokens: 8}
    scheduling: {prompts_per_round: 4}
)");
  const std::vector<v1::JobEvent> events = Watch(id);
  const v1::Job job = Get(id);
  ASSERT_EQ(job.status().state(), v1::JOB_STATE_SUCCEEDED) << job.status().last_error();
  std::vector<std::string> finished;
  for (const v1::JobEvent& e : Of(events, v1::JOB_EVENT_TYPE_STAGE_FINISHED)) {
    finished.push_back(absl::StrCat(e.iteration(), "/", e.stage_name()));
  }
  EXPECT_EQ(finished, (std::vector<std::string>{"0/rs", "0/ppo", "1/rs", "1/ppo"}));
  EXPECT_EQ(Of(events, v1::JOB_EVENT_TYPE_ROUND_FINISHED).size(), 8u);
}

}  // namespace
}  // namespace plumb
