// One alignment round over the four real model services on loopback (port 0), driven by the
// round library (common/rounds) through the gRPC clients (common/clients), as the coordinator
// drives them: generate -> score + reference log-probs -> learner update -> weights published
// straight to the generator -> the generator's next rollouts report the new version and differ.
// Once for PPO, GRPO, rejection sampling (best-of-K SFT) and DPO; a reward model trained on the
// learner and published to the scorer; then the learner's bad inputs, sent on a raw stub.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/clients/grpc_clients.h"
#include "common/rounds/rounds.h"
#include "plumb/v1/generator.grpc.pb.h"
#include "plumb/v1/learner.grpc.pb.h"
#include "plumb/v1/reference.grpc.pb.h"
#include "tests/support/service_process.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Server {
  std::unique_ptr<testing::Subprocess> process;
  std::string endpoint;
};

class AlignmentRoundTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::path(::testing::TempDir()) / "alignment_round_test");
    ASSERT_TRUE(testing::MakeEmptyFolder(root_->string()).ok());
    ASSERT_TRUE(testing::MakeTinyModel((*root_ / "policy").string(), "--seed 1").ok());
    ASSERT_TRUE(
        testing::MakeTinyModel((*root_ / "rm").string(), "--seed 3 --reward-outputs 1").ok());
    const std::string common = "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\n";
    Start("generator", common + "generator:\n  model: {path: policy}\n", &servers_[0]);
    Start("reference", common + "reference:\n  model: {path: policy}\n", &servers_[1]);
    Start("scorer",
          common +
              "scorer:\n  objectives: [helpfulness, sentiment]\n  objective_options:\n"
              "    helpfulness: {kind: reward_model, path: rm}\n    sentiment: {kind: afinn}\n"
              "  composition: {weights: {helpfulness: 1.0, sentiment: 1.0}}\n",
          &servers_[2]);
    // Checkpoints under <root>/checkpoints; policies may be read from anywhere under <root>;
    // weights may be published to the generator and the scorer.
    Start("learner",
          common + "learner: {checkpoint_root: checkpoints, model_roots: [\".\"], " +
              "publish_targets: [\"" + servers_[0].endpoint + "\", \"" + servers_[2].endpoint +
              "\"]}\n",
          &servers_[3]);
  }
  static void Start(const std::string& name, const std::string& yaml, Server* server) {
    absl::StatusOr<testing::RunningService> service =
        testing::StartServiceWithYaml("plumb-" + name, (*root_ / (name + ".yaml")).string(), yaml);
    ASSERT_TRUE(service.ok()) << service.status();
    server->process = std::move(service->process);
    server->endpoint = service->endpoint;
  }
  static void TearDownTestSuite() {
    for (Server& s : servers_) s.process.reset();
    fs::remove_all(*root_);
    delete root_;
  }

  void SetUp() override {
    auto channel = [](const Server& s) {
      return grpc::CreateChannel(s.endpoint, grpc::InsecureChannelCredentials());
    };
    generator_stub_ = v1::Generator::NewStub(channel(servers_[0]));
    reference_stub_ = v1::Reference::NewStub(channel(servers_[1]));
    learner_ = v1::Learner::NewStub(channel(servers_[3]));
    auto options = [](const Server& s) {
      return rpc::ChannelOptions{.target = s.endpoint, .default_deadline = absl::Seconds(120)};
    };
    generator_client_ = *clients::NewGrpcGeneratorClient(options(servers_[0]));
    reference_client_ = *clients::NewGrpcReferenceClient(options(servers_[1]));
    scorer_client_ = *clients::NewGrpcScorerClient(options(servers_[2]));
    learner_client_ = *clients::NewGrpcLearnerClient(options(servers_[3]));
  }

  rounds::RoundClients Clients() {
    return {{generator_client_.get()},
            scorer_client_.get(),
            reference_client_.get(),
            learner_client_.get()};
  }

  static std::vector<generator::PromptInput> Prompts() {
    std::vector<generator::PromptInput> prompts;
    for (const char* text : {"Tell me about your day.", "What do you think of rain?"}) {
      prompts.push_back({.id = text, .text = text});
    }
    return prompts;
  }

  // A round over the two prompts, publishing to the generator (which the tests share, hence
  // downgrades allowed).
  rounds::RoundSpec Spec(const std::string& session, int samples, uint64_t seed = 7) {
    rounds::RoundSpec spec;
    spec.round_id = "round";
    spec.session_id = session;
    spec.prompts = Prompts();
    spec.sampling.num_samples = samples;
    spec.sampling.seed = seed;
    spec.sampling.max_new_tokens = 16;
    spec.sampling.return_logprobs = true;
    spec.publish_to = std::vector<clients::PublishTarget>{{servers_[0].endpoint, ""}};
    spec.allow_downgrade = true;
    spec.call_timeout = absl::Seconds(120);
    return spec;
  }

  std::vector<generator::RolloutResult> Generate(int samples, uint64_t seed = 7) {
    generator::GenerateJob job;
    job.request_id = "round";
    job.prompts = Prompts();
    job.sampling.num_samples = samples;
    job.sampling.seed = seed;
    job.sampling.max_new_tokens = 16;
    job.sampling.return_logprobs = true;
    absl::StatusOr<std::vector<generator::RolloutResult>> rollouts =
        generator_client_->GenerateAll(job, {});
    EXPECT_TRUE(rollouts.ok()) << rollouts.status();
    return rollouts.value_or(std::vector<generator::RolloutResult>());
  }

  std::vector<double> Rewards(const std::vector<generator::RolloutResult>& rollouts) {
    std::vector<scorer::ScoreInput> items;
    for (size_t i = 0; i < rollouts.size(); ++i) {
      items.push_back(
          {.id = absl::StrCat(i),
           .prompt_ids = {rollouts[i].prompt_ids.begin(), rollouts[i].prompt_ids.end()},
           .response_text = rollouts[i].response_text,
           .response_ids = {rollouts[i].response_ids.begin(), rollouts[i].response_ids.end()}});
    }
    absl::StatusOr<std::vector<scorer::ScoreOutput>> scores = scorer_client_->Score(items, {}, {});
    EXPECT_TRUE(scores.ok()) << scores.status();
    std::vector<double> rewards;
    for (const scorer::ScoreOutput& s : scores.value_or(std::vector<scorer::ScoreOutput>())) {
      rewards.push_back(s.reward.value_or(0));
    }
    return rewards;
  }

  std::string StartSession(learner::SessionOptions options) {
    options.policy_path = (*root_ / "policy").string();
    absl::StatusOr<learner::SessionStatus> session =
        learner_client_->StartSession({.options = options, .replace_active = true}, {});
    EXPECT_TRUE(session.ok()) << session.status();
    EXPECT_EQ(session.value_or(learner::SessionStatus()).policy_version, 0u);
    return session.value_or(learner::SessionStatus()).id;
  }

  // Checks the round's publish to the generator, then that the generator's next rollouts carry
  // `version` and differ from the round's.
  void CheckPublished(const std::optional<clients::PublishOutcome>& published, uint64_t version,
                      const std::vector<generator::RolloutResult>& before) {
    ASSERT_TRUE(published.has_value());
    EXPECT_EQ(published->version, version);
    ASSERT_EQ(published->results.size(), 1u);
    EXPECT_TRUE(published->results[0].status.ok()) << published->results[0].status;
    EXPECT_EQ(published->failed_targets, 0);
    EXPECT_GT(published->bytes, 100000u);
    const std::vector<generator::RolloutResult> after =
        Generate(static_cast<int>(before.size()) / 2);
    ASSERT_EQ(after.size(), before.size());
    int changed = 0;
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_EQ(after[i].policy_version, version);
      if (after[i].response_ids != before[i].response_ids) ++changed;
    }
    EXPECT_GE(changed, 1) << "same seeds, new weights: rollouts should change";
  }

  // ---- Raw stubs, for the bad inputs that only protos can carry.

  std::vector<v1::Rollout> RawGenerate(int samples, uint64_t seed = 7) {
    v1::GenerateRequest request;
    request.set_request_id("round");
    for (const char* text : {"Tell me about your day.", "What do you think of rain?"}) {
      v1::Prompt* prompt = request.add_prompts();
      prompt->set_id(text);
      prompt->set_text(text);
    }
    request.mutable_sampling()->set_num_samples(samples);
    request.mutable_sampling()->set_seed(seed);
    request.mutable_sampling()->set_max_new_tokens(16);
    request.mutable_sampling()->set_return_logprobs(true);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    std::unique_ptr<grpc::ClientReader<v1::Rollout>> reader =
        generator_stub_->Generate(&context, request);
    std::vector<v1::Rollout> rollouts;
    v1::Rollout rollout;
    while (reader->Read(&rollout)) rollouts.push_back(rollout);
    EXPECT_TRUE(reader->Finish().ok());
    std::sort(rollouts.begin(), rollouts.end(), [](const v1::Rollout& a, const v1::Rollout& b) {
      return std::make_pair(a.prompt_id(), a.sample_index()) <
             std::make_pair(b.prompt_id(), b.sample_index());
    });
    return rollouts;
  }

  v1::LogProbsResponse RawReferenceLogProbs(const std::vector<v1::Rollout>& rollouts, bool sums) {
    v1::LogProbsRequest request;
    request.set_sum_only(sums);
    for (size_t i = 0; i < rollouts.size(); ++i) {
      v1::LogProbsItem* item = request.add_items();
      item->set_id(absl::StrCat(i));
      *item->mutable_prompt_token_ids() = rollouts[i].prompt_token_ids();
      *item->mutable_response_token_ids() = rollouts[i].response_token_ids();
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::LogProbsResponse response;
    grpc::Status status = reference_stub_->LogProbs(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::string RawStartSession(const v1::TrainingConfig& config) {
    v1::StartSessionRequest request;
    *request.mutable_config() = config;
    request.set_policy_checkpoint((*root_ / "policy").string());
    request.set_replace_active(true);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::StartSessionResponse response;
    grpc::Status status = learner_->StartSession(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.policy_version(), 0u);
    return response.session_id();
  }

  v1::TrainStats RawTrain(v1::TrainRequest request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::TrainResponse response;
    grpc::Status status = learner_->Train(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.stats();
  }

  static fs::path* root_;
  static Server servers_[4];
  std::unique_ptr<v1::Generator::Stub> generator_stub_;
  std::unique_ptr<v1::Reference::Stub> reference_stub_;
  std::unique_ptr<v1::Learner::Stub> learner_;  // for the bad inputs only a raw stub can send
  std::unique_ptr<clients::GeneratorClient> generator_client_;
  std::unique_ptr<clients::ReferenceClient> reference_client_;
  std::unique_ptr<clients::ScorerClient> scorer_client_;
  std::unique_ptr<clients::LearnerClient> learner_client_;
};

fs::path* AlignmentRoundTest::root_ = nullptr;
Server AlignmentRoundTest::servers_[4];

TEST_F(AlignmentRoundTest, OnePpoRound) {
  learner::SessionOptions config = learner::SessionOptions::Defaults(learner::Algorithm::kPpo);
  config.ppo.epochs = 2;
  config.optimizer.lr = 0.01;
  const std::string session = StartSession(config);
  rounds::RoundSpec spec = Spec(session, 4);
  spec.sequence = 1;
  absl::StatusOr<rounds::RoundReport> round = rounds::RunPolicyGradientRound(Clients(), spec);
  ASSERT_TRUE(round.ok()) << round.status();
  ASSERT_EQ(round->rollouts.size(), 8u);
  const learner::TrainStats& stats = round->stats;
  EXPECT_EQ(stats.policy_version, 2u);  // 2 epochs x 1 minibatch
  EXPECT_EQ(stats.optimizer_steps, 2u);
  ASSERT_TRUE(stats.kl.has_value());
  EXPECT_NEAR(*stats.kl, 0.0, 1e-3);  // the policy is still the reference's weights
  EXPECT_TRUE(stats.clip_fraction.has_value());
  EXPECT_TRUE(stats.losses.count("value"));
  EXPECT_GT(stats.grad_norm, 0);
  // The round measured the same KL from the rollouts' and the reference's log-probs.
  ASSERT_TRUE(round->quality.kl.has_value());
  EXPECT_NEAR(*round->quality.kl, 0.0, 1e-2);
  EXPECT_GT(round->quality.mean_response_tokens, 0);
  EXPECT_GT(round->quality.distinct_1, 0);
  // A retry of the same sequence is answered from memory, not trained again.
  rounds::RoundSpec retry = Spec(session, 4);
  retry.sequence = 1;
  retry.publish_to = std::vector<clients::PublishTarget>{};
  absl::StatusOr<rounds::RoundReport> again = rounds::RunPolicyGradientRound(Clients(), retry);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->stats.policy_version, 2u);
  CheckPublished(round->published, 2, round->rollouts);
}

TEST_F(AlignmentRoundTest, OneRejectionSamplingRound) {
  learner::SessionOptions config =
      learner::SessionOptions::Defaults(learner::Algorithm::kRejectionSamplingSft);
  config.optimizer.lr = 0.01;
  const std::string session = StartSession(config);
  absl::StatusOr<rounds::RoundReport> round =
      rounds::RunRejectionSamplingRound(Clients(), Spec(session, 4));
  ASSERT_TRUE(round.ok()) << round.status();
  const learner::TrainStats& stats = round->stats;
  const std::vector<double>& rewards = round->rewards;
  EXPECT_EQ(stats.policy_version, 1u);
  EXPECT_EQ(stats.metrics.at("rs/selected"), 2.0);  // best of 4 for each of 2 prompts
  const double best = std::max({rewards[0], rewards[1], rewards[2], rewards[3]});
  const double best2 = std::max({rewards[4], rewards[5], rewards[6], rewards[7]});
  EXPECT_NEAR(stats.metrics.at("rs/selected_reward_mean"), (best + best2) / 2, 1e-4);
  CheckPublished(round->published, 1, round->rollouts);
}

TEST_F(AlignmentRoundTest, OneDpoRound) {
  learner::SessionOptions config = learner::SessionOptions::Defaults(learner::Algorithm::kDpo);
  config.optimizer.lr = 0.001;
  const std::string session = StartSession(config);
  rounds::RoundSpec spec = Spec(session, 2);                // a pair per prompt
  spec.publish_to = std::vector<clients::PublishTarget>{};  // after the third step
  absl::StatusOr<rounds::RoundReport> round = rounds::RunDpoRound(Clients(), spec);
  ASSERT_TRUE(round.ok()) << round.status();
  const learner::TrainStats& stats = round->stats;
  EXPECT_EQ(stats.policy_version, 1u);
  EXPECT_NEAR(stats.losses.at("dpo"), 0.6931, 1e-3);  // policy == reference before the step
  EXPECT_EQ(stats.metrics.count("dpo/accuracy"), 1u);
  // Two more steps on the same pairs: the implicit reward margin grows. (Version 3 also keeps
  // this round's weights apart from the other tests' versions on the shared generator.)
  const clients::TrainCall more{.session_id = session, .batch = round->pairs};
  ASSERT_TRUE(learner_client_->Train(more, {}).ok());
  absl::StatusOr<learner::TrainStats> third = learner_client_->Train(more, {});
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->policy_version, 3u);
  EXPECT_GT(third->metrics.at("dpo/margin"), stats.metrics.at("dpo/margin"));
  absl::StatusOr<clients::PublishOutcome> published = learner_client_->PublishWeights(
      {.session_id = session, .targets = {{servers_[0].endpoint, ""}}, .allow_downgrade = true},
      {});
  ASSERT_TRUE(published.ok()) << published.status();
  CheckPublished(*published, 3, round->rollouts);
}

TEST_F(AlignmentRoundTest, OneGrpoRound) {
  learner::SessionOptions config = learner::SessionOptions::Defaults(learner::Algorithm::kGrpo);
  config.critic_free.epochs = 5;  // version 5: apart from the other tests' versions
  config.optimizer.lr = 0.01;
  const std::string session = StartSession(config);
  absl::StatusOr<rounds::RoundReport> round =
      rounds::RunPolicyGradientRound(Clients(), Spec(session, 4));  // a group of 4 per prompt
  ASSERT_TRUE(round.ok()) << round.status();
  const learner::TrainStats& stats = round->stats;
  EXPECT_EQ(stats.policy_version, 5u);
  EXPECT_TRUE(stats.losses.count("kl"));  // GRPO's default: k3 KL in the loss, coef 0.04
  // The generator may hold an earlier test's weights: the KL is whatever they give, k3 >= 0.
  ASSERT_TRUE(stats.kl.has_value());
  EXPECT_GE(*stats.kl, 0.0);
  EXPECT_NEAR(stats.metrics.at("advantage_mean"), 0.0, 1e-4);  // group-centred
  EXPECT_TRUE(stats.entropy.has_value());
  EXPECT_GT(stats.grad_norm, 0);
  CheckPublished(round->published, 5, round->rollouts);
}

TEST_F(AlignmentRoundTest, ARewardModelTrainedOnTheLearnerIsPublishedToTheScorer) {
  const std::vector<generator::RolloutResult> rollouts = Generate(2);
  const std::vector<double> before = Rewards(rollouts);
  learner::SessionOptions config =
      learner::SessionOptions::Defaults(learner::Algorithm::kRewardModel);
  config.optimizer.lr = 0.01;
  config.policy_path = (*root_ / "rm").string();
  absl::StatusOr<learner::SessionStatus> started =
      learner_client_->StartSession({.options = config, .replace_active = true}, {});
  ASSERT_TRUE(started.ok()) << started.status();
  // Prefer sample 1 over sample 0 of each prompt, whatever the scorer thinks now.
  std::vector<learner::PreferenceExample> pairs;
  for (size_t i = 0; i < rollouts.size(); i += 2) {
    pairs.push_back({.id = rollouts[i].prompt_id,
                     .prompt = rollouts[i].prompt_ids,
                     .chosen = rollouts[i + 1].response_ids,
                     .rejected = rollouts[i].response_ids});
  }
  absl::StatusOr<learner::TrainStats> stats;
  for (int step = 0; step < 10; ++step) {
    stats = learner_client_->Train({.session_id = started->id, .batch = pairs}, {});
    ASSERT_TRUE(stats.ok()) << stats.status();
  }
  EXPECT_EQ(stats->metrics.at("rm/accuracy"), 1.0);
  // The client carries a pair's soft label to the learner, which refuses one outside [0, 1]
  // naming the pair, before any work.
  std::vector<learner::PreferenceExample> labelled = pairs;
  labelled[0].probability = 1.5;
  const absl::StatusOr<learner::TrainStats> refused =
      learner_client_->Train({.session_id = started->id, .batch = labelled}, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr(absl::StrCat("pair '", pairs[0].id,
                                     "': the preference_probability = 1.5 is outside [0, 1]")));
  absl::StatusOr<clients::PublishOutcome> published = learner_client_->PublishWeights(
      {.session_id = started->id, .targets = {{servers_[2].endpoint, "helpfulness"}}}, {});
  ASSERT_TRUE(published.ok()) << published.status();
  ASSERT_EQ(published->results.size(), 1u);
  EXPECT_TRUE(published->results[0].status.ok()) << published->results[0].status;
  // The scorer now ranks each pair the learned way (the lexicon objective is unchanged).
  const std::vector<double> after = Rewards(rollouts);
  for (size_t i = 0; i < rollouts.size(); i += 2) {
    EXPECT_GT(after[i + 1] - after[i], before[i + 1] - before[i]) << "prompt " << i / 2;
  }
}

TEST_F(AlignmentRoundTest, LearnerRefusesBadBatchesOfEveryKind) {
  auto start = [&](v1::Algorithm algorithm, const std::function<void(v1::TrainingConfig*)>& edit) {
    v1::StartSessionRequest request;
    request.mutable_config()->set_algorithm(algorithm);
    if (edit) edit(request.mutable_config());
    request.set_policy_checkpoint((*root_ / "policy").string());
    request.set_replace_active(true);
    grpc::ClientContext context;
    v1::StartSessionResponse response;
    const grpc::Status status = learner_->StartSession(&context, request, &response);
    return std::make_pair(status, response.session_id());
  };
  // Options this learner cannot honour are refused at the start, naming the field.
  struct Refused {
    v1::Algorithm algorithm;
    std::function<void(v1::TrainingConfig*)> edit;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Refused> refused = {
      {v1::ALGORITHM_DPO, [](v1::TrainingConfig* c) { c->set_precision(v1::PRECISION_FP16_MIXED); },
       grpc::INVALID_ARGUMENT, "config.precision: PRECISION_FP16_MIXED needs a CUDA device"},
      {v1::ALGORITHM_DPO,
       [](v1::TrainingConfig* c) {
         c->mutable_lora()->set_rank(2);
         c->mutable_lora()->set_publish_adapters_only(true);
       },
       grpc::UNIMPLEMENTED, "config.lora.publish_adapters_only"},
      {v1::ALGORITHM_PPO,
       [](v1::TrainingConfig* c) { c->mutable_optimizer()->set_gradient_accumulation_steps(2); },
       grpc::INVALID_ARGUMENT, "gradient_accumulation_steps: must be 0 or 1 for on-policy"},
      {v1::ALGORITHM_KTO, [](v1::TrainingConfig* c) { c->mutable_kto()->set_beta(-1); },
       grpc::INVALID_ARGUMENT, "config.kto.beta: must be in (0, 1e+06], got -1"},
      {v1::ALGORITHM_GRPO, [](v1::TrainingConfig* c) { c->mutable_dpo(); }, grpc::INVALID_ARGUMENT,
       "config.algorithm_config: holds another algorithm's config"},
      {v1::ALGORITHM_PPO, [](v1::TrainingConfig* c) { c->mutable_ppo()->set_epochs(INT32_MAX); },
       grpc::INVALID_ARGUMENT, "config.ppo.epochs: must be in [1, 100]"},
      // Non-finite values anywhere in the config (an epsilon of NaN once trained every weight
      // to NaN and published them), then values out of their documented ranges.
      {v1::ALGORITHM_SFT,
       [](v1::TrainingConfig* c) { c->mutable_optimizer()->set_epsilon(std::nanf("")); },
       grpc::INVALID_ARGUMENT, "config.optimizer.epsilon"},
      {v1::ALGORITHM_PPO, [](v1::TrainingConfig* c) { c->mutable_ppo()->set_gamma(INFINITY); },
       grpc::INVALID_ARGUMENT, "config.ppo.gamma"},
      {v1::ALGORITHM_PPO, [](v1::TrainingConfig* c) { c->mutable_ppo()->set_gamma(2.0f); },
       grpc::INVALID_ARGUMENT, "config.ppo.gamma: must be in [0, 1], got 2"},
      {v1::ALGORITHM_SFT,
       [](v1::TrainingConfig* c) { c->mutable_optimizer()->set_min_lr_ratio(-1.0f); },
       grpc::INVALID_ARGUMENT, "config.optimizer.min_lr_ratio: must be in [0, 1]"},
      {v1::ALGORITHM_SFT,
       [](v1::TrainingConfig* c) {
         c->mutable_optimizer()->set_schedule(static_cast<v1::LrSchedule>(77));
       },
       grpc::INVALID_ARGUMENT, "config.optimizer.schedule"},
      {v1::ALGORITHM_PPO,
       [](v1::TrainingConfig* c) { c->mutable_ppo()->mutable_kl()->set_coef(-0.5f); },
       grpc::INVALID_ARGUMENT, "config.ppo.kl.coef: must be in [0, 1e+06]"},
      // Documented options the learner does not implement are refused, never ignored.
      {v1::ALGORITHM_SFT,
       [](v1::TrainingConfig* c) { c->mutable_sft()->set_train_on_prompt(true); },
       grpc::UNIMPLEMENTED, "config.sft.train_on_prompt"},
      {v1::ALGORITHM_REJECTION_SAMPLING_SFT,
       [](v1::TrainingConfig* c) {
         c->mutable_rejection_sampling()->mutable_sft()->set_label_smoothing(0.1f);
       },
       grpc::UNIMPLEMENTED, "config.rejection_sampling.sft.label_smoothing"},
  };
  for (const Refused& r : refused) {
    const auto [status, id] = start(r.algorithm, r.edit);
    EXPECT_EQ(status.error_code(), r.code) << r.message << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(r.message));
  }
  // Bad batches of each kind.
  const std::vector<v1::Rollout> rollouts = RawGenerate(2);
  auto train = [&](const v1::TrainRequest& request) {
    grpc::ClientContext context;
    v1::TrainResponse response;
    return learner_->Train(&context, request, &response);
  };
  {
    const auto [status, id] = start(v1::ALGORITHM_GRPO, nullptr);
    ASSERT_TRUE(status.ok());
    v1::TrainRequest request;
    request.set_session_id(id);
    for (size_t i = 0; i < 3; ++i) {  // the second prompt's group keeps 1 sample
      v1::Experience* e = request.mutable_experience()->add_experiences();
      *e->mutable_rollout() = rollouts[i];
      e->set_reward(1.0f);
      e->mutable_reference_logprobs()->Resize(rollouts[i].response_token_ids_size(), -1.0f);
    }
    const grpc::Status refused_status = train(request);
    EXPECT_EQ(refused_status.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(refused_status.error_message(), HasSubstr("has 1 sample"));
  }
  {
    const auto [status, id] = start(v1::ALGORITHM_KTO, nullptr);
    ASSERT_TRUE(status.ok());
    v1::TrainRequest request;
    request.set_session_id(id);
    v1::UnpairedExample* e = request.mutable_unpaired()->add_examples();
    *e->mutable_prompt_token_ids() = rollouts[0].prompt_token_ids();
    *e->mutable_completion_token_ids() = rollouts[0].response_token_ids();
    e->set_reference_logprob(-3.0);
    e->set_reference_kl_logprob(-3.0);
    const grpc::Status one = train(request);
    EXPECT_EQ(one.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(one.error_message(), HasSubstr("at least 2 examples"));
    v1::UnpairedExample* second = request.mutable_unpaired()->add_examples();
    *second = *e;
    second->set_desirable(true);
    second->clear_reference_logprob();
    const grpc::Status missing = train(request);
    EXPECT_EQ(missing.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(missing.error_message(), HasSubstr("reference_logprob is required"));
    second->set_reference_logprob(-2.0);
    EXPECT_TRUE(train(request).ok());  // and the session still trains
  }
  {
    // A reference log-prob of 1e308 once made the DPO loss inf with status OK.
    const auto [status, id] = start(v1::ALGORITHM_DPO, nullptr);
    ASSERT_TRUE(status.ok());
    v1::TrainRequest request;
    request.set_session_id(id);
    v1::PreferencePair* pair = request.mutable_preference()->add_pairs();
    pair->set_id("huge");
    *pair->mutable_prompt_token_ids() = rollouts[0].prompt_token_ids();
    *pair->mutable_chosen_token_ids() = rollouts[0].response_token_ids();
    *pair->mutable_rejected_token_ids() = rollouts[1].response_token_ids();
    pair->set_reference_chosen_logprob(1e308);
    pair->set_reference_rejected_logprob(-20.0);
    const grpc::Status huge = train(request);
    EXPECT_EQ(huge.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(huge.error_message(),
                HasSubstr("pair 'huge': reference_chosen_logprob = 1e+308 is not a summed "
                          "log-prob in [-1e+09, 0]"));
    pair->set_margin(-1.0f);
    pair->set_reference_chosen_logprob(-25.0);
    const grpc::Status margin = train(request);
    EXPECT_EQ(margin.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(margin.error_message(), HasSubstr("the margin = -1 is outside"));
    pair->clear_margin();
    // Checked for DPO too, though only REWARD_MODEL trains on it.
    pair->set_preference_probability(1.5f);
    const grpc::Status probability = train(request);
    EXPECT_EQ(probability.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(probability.error_message(),
                HasSubstr("pair 'huge': the preference_probability = 1.5 is outside [0, 1]"));
    pair->set_preference_probability(0.75f);  // in range: trained on (and ignored by DPO)
    EXPECT_TRUE(train(request).ok());
  }
  {
    const auto [status, id] = start(v1::ALGORITHM_RRHF, nullptr);
    ASSERT_TRUE(status.ok());
    v1::TrainRequest request;
    request.set_session_id(id);
    v1::RankedGroup* g = request.mutable_ranked()->add_groups();
    g->set_id("tied");
    *g->mutable_prompt_token_ids() = rollouts[0].prompt_token_ids();
    for (int k = 0; k < 2; ++k) {
      v1::RankedResponse* r = g->add_responses();
      *r->mutable_token_ids() = rollouts[k].response_token_ids();
      r->set_rank(0);
    }
    const grpc::Status tied = train(request);
    EXPECT_EQ(tied.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(tied.error_message(), HasSubstr("group 'tied': needs at least 2 distinct ranks"));
    g->mutable_responses(1)->set_rank(1);
    g->mutable_responses(1)->set_token_ids(0, 100000);
    const grpc::Status vocabulary = train(request);
    EXPECT_EQ(vocabulary.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(vocabulary.error_message(), HasSubstr("outside the vocabulary"));
    *g->mutable_responses(1)->mutable_token_ids() = rollouts[1].response_token_ids();
    EXPECT_TRUE(train(request).ok());
    // A batch of another kind for this algorithm.
    v1::TrainRequest sft;
    sft.set_session_id(id);
    v1::SftExample* example = sft.mutable_sft()->add_examples();
    *example->mutable_completion_token_ids() = rollouts[0].response_token_ids();
    const grpc::Status kind = train(sft);
    EXPECT_EQ(kind.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(kind.error_message(), HasSubstr("does not train on SFT batches"));
  }
}

TEST_F(AlignmentRoundTest, LearnerRefusesBadInputsAndKeepsServing) {
  v1::TrainingConfig config;
  config.set_algorithm(v1::ALGORITHM_PPO);
  {
    v1::TrainingConfig bad = config;
    bad.mutable_ppo()->set_clip_range(1.5f);
    v1::StartSessionRequest request;
    *request.mutable_config() = bad;
    request.set_policy_checkpoint((*root_ / "policy").string());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::StartSessionResponse response;
    grpc::Status status = learner_->StartSession(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(),
                HasSubstr("config.ppo.clip_range / clip_range_low: must be in (0, 1), got 1.5"));
  }
  {
    v1::StartSessionRequest request;
    *request.mutable_config() = config;
    request.set_policy_checkpoint((*root_ / "policy").string());
    request.set_load_optimizer_state(true);
    grpc::ClientContext context;
    v1::StartSessionResponse response;
    const grpc::Status status = learner_->StartSession(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::UNIMPLEMENTED);
    EXPECT_THAT(status.error_message(), HasSubstr("request.load_optimizer_state"));
  }
  const std::string session = RawStartSession(config);
  const std::vector<v1::Rollout> rollouts = RawGenerate(2);
  auto request_with = [&](const std::function<void(v1::Experience*)>& mutate) {
    v1::TrainRequest request;
    request.set_session_id(session);
    const v1::LogProbsResponse ref = RawReferenceLogProbs(rollouts, false);
    for (size_t i = 0; i < rollouts.size(); ++i) {
      v1::Experience* e = request.mutable_experience()->add_experiences();
      *e->mutable_rollout() = rollouts[i];
      e->set_reward(1.0f);
      *e->mutable_reference_logprobs() = ref.results(static_cast<int>(i)).logprobs();
      if (i == 1) mutate(e);
    }
    return request;
  };
  struct Case {
    std::string name;
    std::function<void(v1::Experience*)> mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"token outside the vocabulary",
       [](v1::Experience* e) { e->mutable_rollout()->set_response_token_ids(0, 5000); },
       "experience 1: token id 5000 is outside the vocabulary [0, 259)"},
      {"NaN reward", [](v1::Experience* e) { e->set_reward(std::nanf("")); },
       "request.experience.experiences[1].reward"},
      {"missing reference log-probs", [](v1::Experience* e) { e->clear_reference_logprobs(); },
       "reference log-probs for"},
      {"empty response",
       [](v1::Experience* e) { e->mutable_rollout()->clear_response_token_ids(); },
       "experience 1: empty response"},
      {"NaN log-prob",
       [](v1::Experience* e) { e->mutable_rollout()->set_logprobs(0, std::nanf("")); },
       "request.experience.experiences[1].rollout.logprobs[0]"},
      {"positive log-prob", [](v1::Experience* e) { e->mutable_rollout()->set_logprobs(0, 0.5f); },
       "experience 1: log-probs[0] = 0.5 is not a log-prob in [-10000, 0]"},
      {"reference log-prob below the floor",
       [](v1::Experience* e) { e->set_reference_logprobs(0, -1e30f); },
       "experience 1: reference log-probs[0] = -1e+30 is not a log-prob"},
      {"reward out of range", [](v1::Experience* e) { e->set_reward(1e30f); },
       "experience 1: the reward = 1e+30 is outside [-1e+06, 1e+06]"},
      {"unknown finish reason",
       [](v1::Experience* e) {
         e->mutable_rollout()->set_finish_reason(static_cast<v1::FinishReason>(99));
       },
       "request.experience.experiences[1].rollout.finish_reason"},
  };
  for (const Case& c : cases) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::TrainResponse response;
    grpc::Status status = learner_->Train(&context, request_with(c.mutate), &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT)
        << c.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
  }
  for (const float temperature : {-1.0f, std::nanf(""), 1e-9f}) {
    v1::TrainRequest request = request_with([](v1::Experience*) {});
    request.mutable_experience()->set_temperature(temperature);
    grpc::ClientContext context;
    v1::TrainResponse response;
    const grpc::Status status = learner_->Train(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << temperature;
    EXPECT_THAT(status.error_message(), HasSubstr("temperature")) << temperature;
  }
  v1::TrainRequest unknown = request_with([](v1::Experience*) {});
  unknown.set_session_id("s-nope");
  grpc::ClientContext context;
  v1::TrainResponse response;
  EXPECT_EQ(learner_->Train(&context, unknown, &response).error_code(), grpc::NOT_FOUND);
  // After every refusal the session still trains.
  EXPECT_EQ(RawTrain(request_with([](v1::Experience*) {})).policy_version(), 4u);
}

TEST_F(AlignmentRoundTest, LearnerConfigMistakesStopTheStartWithFileLineAndKey) {
  const fs::path config = *root_ / "bad_learner.yaml";
  std::ofstream(config) << "server: {address: \"127.0.0.1:0\"}\nlearner: {thread: 2}\n";
  absl::StatusOr<testing::Subprocess> process = testing::Subprocess::Start(
      {testing::BinaryPath("plumb-learner"), "--config", config.string()}, /*merge_stderr=*/true);
  ASSERT_TRUE(process.ok());
  absl::StatusOr<std::string> line = process->WaitForLine("plumb-learner:", absl::Seconds(30));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(*line, HasSubstr("bad_learner.yaml:2: key 'learner.thread': unknown key"));
  EXPECT_EQ(*process->Wait(absl::Seconds(30)), 2);
}

}  // namespace
}  // namespace plumb
