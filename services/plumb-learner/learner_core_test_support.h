// The fixture the learner core's tests share: a tiny saved policy, session options that make
// every algorithm move it quickly, batches of each kind on two prompts (a good and a bad
// response for each), and the log-prob margin of good over bad responses.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_TEST_SUPPORT_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_TEST_SUPPORT_H_

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/logprobs.h"
#include "common/model/transformer.h"
#include "services/plumb-learner/learner_core.h"
#include "tests/support/free_port.h"

namespace plumb::learner {

namespace fs = std::filesystem;

inline const std::vector<int64_t> kPromptA = {1, 2, 3}, kPromptB = {4, 5, 6, 7};
inline const std::vector<int64_t> kGood = {10, 11, 12}, kBad = {20, 21, 22, 23};

class LearnerCoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Per process: several test binaries share this fixture and may run at once.
    dir_ = new fs::path(fs::path(::testing::TempDir()) /
                        absl::StrCat("learner_core_test_model_", getpid()));
    fs::remove_all(*dir_);
    model::ModelConfig config;
    config.vocab_size = 64;
    config.hidden_size = 32;
    config.intermediate_size = 64;
    config.num_hidden_layers = 1;
    config.num_attention_heads = 2;
    config.num_key_value_heads = 2;
    config.max_position_embeddings = 32;
    torch::manual_seed(5);
    model::Transformer policy(config);
    ASSERT_TRUE(model::SaveHfModel(*policy, *dir_).ok());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  static SessionOptions Options(Algorithm algorithm) {
    SessionOptions o;
    o.algorithm = algorithm;
    o.policy_path = dir_->string();
    o.optimizer.lr = 1e-2;
    o.seed = 11;
    o.max_grad_norm = 0;
    o.ppo.kl_coef = 0;
    o.critic_free.kl.coef = 0;
    return o;
  }

  static std::string Start(LearnerCore& core, const SessionOptions& o) {
    bool created = false;
    absl::StatusOr<SessionStatus> s = core.StartSession(o, "", true, &created, "session");
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id : "";
  }

  // Summed log-prob of `response` after `prompt` under the session's current weights.
  static double LogProb(LearnerCore& core, const std::vector<int64_t>& prompt,
                        const std::vector<int64_t>& response) {
    absl::StatusOr<PolicyWeights> w = core.Weights("session", torch::kFloat);
    EXPECT_TRUE(w.ok()) << w.status();
    model::Transformer m(core.Model()->config);
    EXPECT_TRUE(model::ImportHfTensors(*m, w->tensors, "test").ok());
    torch::NoGradGuard no_grad;
    absl::StatusOr<model::ResponseScores> s = model::ScoreResponses(*m, {prompt}, {response});
    EXPECT_TRUE(s.ok()) << s.status();
    return (s->logprobs * s->mask).sum().item<double>();
  }
  static double GoodOverBad(LearnerCore& core) {
    return LogProb(core, kPromptA, kGood) - LogProb(core, kPromptA, kBad) +
           LogProb(core, kPromptB, kGood) - LogProb(core, kPromptB, kBad);
  }

  // Two prompts x 4 samples: 2 good (reward 1) and 2 bad (reward 0) each.
  static std::vector<Experience> Rollouts() {
    std::vector<Experience> batch;
    for (const auto* prompt : {&kPromptA, &kPromptB}) {
      for (int k = 0; k < 4; ++k) {
        Experience e;
        e.group.assign(1, prompt == &kPromptA ? 'a' : 'b');
        e.prompt = *prompt;
        e.response = k % 2 == 0 ? kGood : kBad;
        e.reward = k % 2 == 0 ? 1.0 : 0.0;
        e.ref_logprobs.assign(e.response.size(), -4.0f);
        batch.push_back(e);
      }
    }
    return batch;
  }
  static std::vector<PreferenceExample> Pairs() {
    std::vector<PreferenceExample> pairs;
    for (const auto* prompt : {&kPromptA, &kPromptB}) {
      PreferenceExample p;
      p.id.assign(1, prompt == &kPromptA ? 'a' : 'b');
      p.prompt = *prompt;
      p.chosen = kGood;
      p.rejected = kBad;
      p.ref_chosen = -12.0;
      p.ref_rejected = -16.0;
      p.margin = 1.0;
      pairs.push_back(p);
    }
    return pairs;
  }
  static std::vector<UnpairedExample> Unpaired() {
    std::vector<UnpairedExample> batch;
    for (const auto* prompt : {&kPromptA, &kPromptB}) {
      for (bool good : {true, false}) {
        UnpairedExample e;
        e.id = absl::StrCat(batch.size());
        e.prompt = *prompt;
        e.completion = good ? kGood : kBad;
        e.desirable = good;
        e.ref_logprob = good ? -12.0 : -16.0;
        e.ref_kl_logprob = -14.0;
        batch.push_back(e);
      }
    }
    return batch;
  }
  static std::vector<RankedGroup> Ranked() {
    std::vector<RankedGroup> groups;
    for (const auto* prompt : {&kPromptA, &kPromptB}) {
      RankedGroup g;
      g.id.assign(1, prompt == &kPromptA ? 'a' : 'b');
      g.prompt = *prompt;
      g.responses = {kBad, kGood, {30, 31}};
      g.ranks = {2, 0, 1};
      groups.push_back(g);
    }
    return groups;
  }

  // Runs `calls` Train calls of the algorithm's batch kind; returns the last stats.
  static TrainStats Train(LearnerCore& core, Algorithm a, int calls) {
    absl::StatusOr<TrainStats> stats = absl::InternalError("no call");
    for (int i = 0; i < calls; ++i) {
      switch (a) {
        case Algorithm::kPpo:
        case Algorithm::kGrpo:
        case Algorithm::kRloo:
        case Algorithm::kReinforce:
        case Algorithm::kRejectionSamplingSft:
          stats = core.TrainExperience("session", Rollouts(), 1.0);
          break;
        case Algorithm::kKto:
          stats = core.TrainUnpaired("session", Unpaired());
          break;
        case Algorithm::kRrhf:
          stats = core.TrainRanked("session", Ranked());
          break;
        case Algorithm::kSft:
          stats =
              core.TrainSft("session", {{"a", kPromptA, kGood, 1.0}, {"b", kPromptB, kGood, 1.0}});
          break;
        default:
          stats = core.TrainPreference("session", Pairs());
      }
      EXPECT_TRUE(stats.ok()) << stats.status();
      if (!stats.ok()) return {};
    }
    return *stats;
  }

  // Reads the test model's folder, writes checkpoints under it.
  static Storage TestStorage() {
    absl::StatusOr<Storage> storage = Storage::Create(
        {.checkpoint_root = (*dir_ / "checkpoints").string(), .model_roots = {dir_->string()}});
    EXPECT_TRUE(storage.ok()) << storage.status();
    return *std::move(storage);
  }

  // Runs `body` on two data-parallel ranks (Gloo over loopback, one thread each) and waits.
  static void OnTwoRanks(const std::function<void(LearnerCore& core, int rank)>& body) {
    const int port = plumb::testing::FreeLoopbackPort();
    auto rank_main = [&](int rank) {
      train::WorldEnvironment env{.rank = rank, .world_size = 2, .master_port = port};
      absl::StatusOr<std::unique_ptr<train::World>> world =
          train::World::Join(env, train::WorldOptions{.timeout = std::chrono::seconds(60)});
      ASSERT_TRUE(world.ok()) << world.status();
      LearnerCore core(TestStorage(), world->get());
      body(core, rank);
    };
    std::thread r0(rank_main, 0), r1(rank_main, 1);
    r0.join();
    r1.join();
  }

  // The largest difference between two sessions' weights.
  static double MaxDifference(LearnerCore& a, LearnerCore& b) {
    absl::StatusOr<PolicyWeights> x = a.Weights("session", torch::kFloat);
    absl::StatusOr<PolicyWeights> y = b.Weights("session", torch::kFloat);
    EXPECT_TRUE(x.ok() && y.ok());
    if (!x.ok() || !y.ok()) return 1e9;
    double worst = 0;
    for (const auto& [name, t] : x->tensors) {
      worst = std::max(worst, (t - y->tensors.at(name)).abs().max().item<double>());
    }
    return worst;
  }

  static inline fs::path* dir_ = nullptr;
};

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_TEST_SUPPORT_H_
