// LearnerCore under hostile or unlucky input: a cancelled Train call stops at a boundary and
// leaves exactly its completed steps (on one process and on two data-parallel ranks, which stop
// together); options and batch values outside their documented ranges (NaN, Inf, negative
// counts) are refused naming the field; a loss that goes non-finite applies nothing, on every
// rank alike.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <fstream>
#include <functional>

#include "common/api/learner_limits.h"
#include "services/plumb-learner/learner_core.h"
#include "services/plumb-learner/learner_core_test_support.h"

namespace plumb::learner {
namespace {

using ::testing::HasSubstr;

TEST_F(LearnerCoreTest, CancelledPpoCallKeepsExactlyTheStepsItCompleted) {
  SessionOptions o = Options(Algorithm::kPpo);
  o.ppo.epochs = 3;  // one step per epoch: the whole batch is one minibatch
  LearnerCore three(TestStorage());
  Start(three, o);
  ASSERT_EQ(Train(three, Algorithm::kPpo, 1).policy_version, 3u);

  o.ppo.epochs = kMaxEpochs;
  LearnerCore core(TestStorage());
  Start(core, o);
  const CancelPredicate after_three = [&core] { return core.Status()->optimizer_steps >= 3; };
  absl::StatusOr<TrainStats> cancelled =
      core.TrainExperience("session", Rollouts(), 1.0, after_three);
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled) << cancelled.status();
  EXPECT_THAT(std::string(cancelled.status().message()),
              HasSubstr("3 earlier optimizer step(s) stay (policy version 3)"));
  EXPECT_EQ(core.Status()->policy_version, 3u);
  EXPECT_EQ(core.Status()->train_calls, 0u);
  EXPECT_EQ(MaxDifference(core, three), 0.0) << "the cancelled call applied a fourth step";
  // The session is not wedged: the next call runs to the end.
  absl::StatusOr<TrainStats> next = core.TrainExperience("session", Rollouts(), 1.0);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->policy_version, 3u + kMaxEpochs);
  EXPECT_EQ(core.Status()->train_calls, 1u);
}

TEST_F(LearnerCoreTest, CancellingBetweenMicroBatchesDropsTheGradientsAndTheAccumulationWindow) {
  SessionOptions o = Options(Algorithm::kDpo);
  o.gradient_accumulation_steps = 2;
  o.micro_batch_size = 1;
  LearnerCore core(TestStorage());
  Start(core, o);
  ASSERT_TRUE(core.TrainPreference("session", Pairs()).ok());  // half a window
  int asked = 0;
  const CancelPredicate before_second_micro_batch = [&asked] { return ++asked >= 2; };
  absl::StatusOr<TrainStats> cancelled =
      core.TrainPreference("session", Pairs(), before_second_micro_batch);
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled) << cancelled.status();
  EXPECT_EQ(core.Status()->policy_version, 0u);
  // The next two calls make the step a fresh session makes of them: nothing of the first call or
  // of the cancelled one's first micro-batch is left in the gradients.
  LearnerCore fresh(TestStorage());
  Start(fresh, o);
  for (LearnerCore* c : {&core, &fresh}) {
    ASSERT_TRUE(c->TrainPreference("session", Pairs()).ok());
    absl::StatusOr<TrainStats> stepped = c->TrainPreference("session", Pairs());
    ASSERT_TRUE(stepped.ok());
    EXPECT_EQ(stepped->policy_version, 1u);
  }
  EXPECT_LT(MaxDifference(core, fresh), 1e-7);
}

TEST_F(LearnerCoreTest, DataParallelRanksStopTogetherWhenRankZerosCallerCancels) {
  std::vector<absl::Status> first(2), second(2);
  std::vector<uint64_t> first_version(2), second_version(2);
  std::vector<absl::StatusOr<PolicyWeights>> weights(2, absl::InternalError("not run"));
  OnTwoRanks([&](LearnerCore& core, int rank) {
    SessionOptions o = Options(Algorithm::kPpo);
    o.ppo.epochs = kMaxEpochs;
    Start(core, o);
    // Only rank 0 has a caller; rank 1 follows the ranks' vote at each step.
    auto stop_at = [&core, rank](uint64_t steps) -> CancelPredicate {
      if (rank != 0) return {};
      return [&core, steps] { return core.Status()->optimizer_steps >= steps; };
    };
    first[rank] = core.TrainExperience("session", Rollouts(), 1.0, stop_at(2)).status();
    first_version[rank] = core.Status()->policy_version;
    second[rank] = core.TrainExperience("session", Rollouts(), 1.0, stop_at(5)).status();
    second_version[rank] = core.Status()->policy_version;
    weights[rank] = core.Weights("session", torch::kFloat);
  });
  for (int rank = 0; rank < 2; ++rank) {
    SCOPED_TRACE(rank);
    EXPECT_EQ(first[rank].code(), absl::StatusCode::kCancelled) << first[rank];
    EXPECT_EQ(second[rank].code(), absl::StatusCode::kCancelled) << second[rank];
    EXPECT_EQ(first_version[rank], 2u);
    EXPECT_EQ(second_version[rank], 5u);
    ASSERT_TRUE(weights[rank].ok());
  }
  for (const auto& [name, t] : weights[0]->tensors) {
    EXPECT_TRUE(t.equal(weights[1]->tensors.at(name))) << name;
  }
}

// A session option set to a bad value, and what the refusal must name.
struct Bad {
  Algorithm algorithm;
  std::function<void(SessionOptions&)> edit;
  const char* message;
};

// Each case's StartSession is INVALID_ARGUMENT naming the field, and starts nothing.
// `options` makes a valid session of an algorithm (the fixture's Options).
void ExpectEveryOptionRefused(LearnerCore& core, const std::vector<Bad>& cases,
                              SessionOptions (*options)(Algorithm)) {
  for (const Bad& bad : cases) {
    SCOPED_TRACE(bad.message);
    SessionOptions o = options(bad.algorithm);
    bad.edit(o);
    bool created = true;
    absl::StatusOr<SessionStatus> s = core.StartSession(o, "", true, &created, "session");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(bad.message));
    EXPECT_FALSE(created);
  }
}

TEST_F(LearnerCoreTest, SizeOptionsOutsideTheirLimitsAreRefusedNamingTheField) {
  const std::vector<Bad> cases = {
      {Algorithm::kPpo, [](SessionOptions& o) { o.ppo.epochs = INT_MAX; },
       "config.ppo.epochs: must be in [1, 100]"},
      {Algorithm::kPpo, [](SessionOptions& o) { o.ppo.minibatch_size = -1; },
       "config.ppo.minibatch_size: must be in [0, 65536]"},
      {Algorithm::kPpo, [](SessionOptions& o) { o.ppo.kl_horizon = 0; },
       "config.ppo.kl.adaptive.horizon"},
      {Algorithm::kGrpo, [](SessionOptions& o) { o.critic_free.epochs = 1000; },
       "config.grpo.epochs: must be in [1, 100]"},
      {Algorithm::kRloo, [](SessionOptions& o) { o.critic_free.minibatch_size = 1 << 30; },
       "config.rloo.minibatch_size"},
      {Algorithm::kRejectionSamplingSft, [](SessionOptions& o) { o.rejection_sampling.top_n = 0; },
       "config.rejection_sampling.top_n_per_prompt"},
      {Algorithm::kDpo, [](SessionOptions& o) { o.gradient_accumulation_steps = 1 << 20; },
       "config.optimizer.gradient_accumulation_steps: must be in [1, 1024]"},
      {Algorithm::kSft, [](SessionOptions& o) { o.schedule.warmup_steps = -1; },
       "config.optimizer.warmup_steps"},
      {Algorithm::kSft, [](SessionOptions& o) { o.total_steps = int64_t{1} << 40; },
       "config.optimizer.total_steps"},
      {Algorithm::kSft, [](SessionOptions& o) { o.micro_batch_size = 1 << 30; },
       "config.micro_batch_size"},
      {Algorithm::kSft, [](SessionOptions& o) { o.max_sequence_length = int64_t{1} << 40; },
       "config.max_sequence_length"},
      {Algorithm::kSft, [](SessionOptions& o) { o.lora = model::LoraOptions{.rank = 1 << 20}; },
       "config.lora.rank"},
  };
  LearnerCore core(TestStorage());
  ExpectEveryOptionRefused(core, cases, &Options);
  // A good request still starts a session.
  Start(core, Options(Algorithm::kPpo));
  EXPECT_TRUE(core.Status().has_value());
}

TEST_F(LearnerCoreTest, NonFiniteOrOutOfRangeRealOptionsAreRefusedNamingTheField) {
  const double nan = std::nan(""), inf = INFINITY;
  const std::vector<Bad> cases = {
      {Algorithm::kSft, [&](SessionOptions& o) { o.optimizer.eps = nan; },
       "config.optimizer.epsilon: must be in (0, 1], got nan"},
      {Algorithm::kSft, [&](SessionOptions& o) { o.optimizer.lr = inf; },
       "config.optimizer.learning_rate"},
      {Algorithm::kSft, [](SessionOptions& o) { o.optimizer.beta2 = 1.0; },
       "config.optimizer.beta2: must be in [0, 1)"},
      {Algorithm::kSft, [&](SessionOptions& o) { o.optimizer.weight_decay = nan; },
       "config.optimizer.weight_decay"},
      {Algorithm::kSft, [](SessionOptions& o) { o.max_grad_norm = -1; },
       "config.optimizer.max_grad_norm"},
      {Algorithm::kPpo, [](SessionOptions& o) { o.ppo.clip_low = 1.5; },
       "config.ppo.clip_range / clip_range_low: must be in (0, 1)"},
      {Algorithm::kPpo, [&](SessionOptions& o) { o.ppo.lambda = nan; }, "config.ppo.gae_lambda"},
      {Algorithm::kPpo, [&](SessionOptions& o) { o.ppo.entropy_coef = -inf; },
       "config.ppo.entropy_coef"},
      {Algorithm::kPpo, [](SessionOptions& o) { o.ppo.dual_clip = 0.5; }, "config.ppo.dual_clip"},
      {Algorithm::kPpo, [&](SessionOptions& o) { o.ppo.shaping.no_eos_penalty = nan; },
       "config.ppo.reward_shaping.no_eos_penalty"},
      {Algorithm::kGrpo, [](SessionOptions& o) { o.critic_free.kl.coef = -1; },
       "config.grpo.kl.coef"},
      {Algorithm::kReinforce, [](SessionOptions& o) { o.critic_free.baseline_decay = 1; },
       "config.reinforce.baseline_decay"},
      {Algorithm::kDpo, [&](SessionOptions& o) { o.dpo.beta = nan; }, "config.dpo.beta"},
      {Algorithm::kKto, [&](SessionOptions& o) { o.kto.desirable_weight = inf; },
       "config.kto.desirable_weight"},
      {Algorithm::kSimpo, [](SessionOptions& o) { o.simpo.label_smoothing = 0.5; },
       "config.simpo.label_smoothing"},
      {Algorithm::kOrpo, [](SessionOptions& o) { o.orpo_weight = 0; },
       "config.orpo.odds_ratio_weight"},
      {Algorithm::kRewardModel, [&](SessionOptions& o) { o.reward_model.margin_scale = nan; },
       "config.reward_model.margin_scale"},
      {Algorithm::kRejectionSamplingSft,
       [&](SessionOptions& o) { o.rejection_sampling.min_reward = inf; },
       "config.rejection_sampling.min_reward"},
      {Algorithm::kSft, [&](SessionOptions& o) { o.lora = model::LoraOptions{.alpha = nan}; },
       "config.lora.alpha"},
  };
  LearnerCore core(TestStorage());
  ExpectEveryOptionRefused(core, cases, &Options);
  Start(core, Options(Algorithm::kSft));
  EXPECT_TRUE(core.Status().has_value());
}

TEST_F(LearnerCoreTest, BatchValuesOutOfRangeAreRefusedAndNothingIsTrained) {
  const double nan = std::nan("");
  struct Bad {
    Algorithm algorithm;
    std::function<absl::Status(LearnerCore&)> call;
    const char* message;
  };
  const std::vector<Bad> cases = {
      {Algorithm::kPpo,
       [&](LearnerCore& c) { return c.TrainExperience("session", Rollouts(), nan).status(); },
       "the sampling temperature is not finite"},
      {Algorithm::kPpo,
       [](LearnerCore& c) { return c.TrainExperience("session", Rollouts(), -1).status(); },
       "the sampling temperature = -1 is outside"},
      {Algorithm::kGrpo,
       [](LearnerCore& c) {
         std::vector<Experience> b = Rollouts();
         b[2].logprobs.assign(b[2].response.size(), 0.25f);
         return c.TrainExperience("session", b, 1.0).status();
       },
       "experience 2: log-probs[0] = 0.25 is not a log-prob in [-10000, 0]"},
      {Algorithm::kRloo,
       [](LearnerCore& c) {
         std::vector<Experience> b = Rollouts();
         b[0].reward = 1e30;
         return c.TrainExperience("session", b, 1.0).status();
       },
       "experience 0: the reward = 1e+30 is outside"},
      {Algorithm::kDpo,
       [](LearnerCore& c) {
         std::vector<PreferenceExample> b = Pairs();
         b[1].ref_chosen = 1e308;
         return c.TrainPreference("session", b).status();
       },
       "pair 'b': reference_chosen_logprob = 1e+308 is not a summed log-prob in [-1e+09, 0]"},
      {Algorithm::kKto,
       [&](LearnerCore& c) {
         std::vector<UnpairedExample> b = Unpaired();
         b[0].ref_kl_logprob = nan;
         return c.TrainUnpaired("session", b).status();
       },
       "reference_kl_logprob is not finite"},
      {Algorithm::kSft,
       [](LearnerCore& c) {
         return c.TrainSft("session", {{"w", kPromptA, kGood, INFINITY}}).status();
       },
       "example 'w': the weight is not finite"},
      {Algorithm::kRrhf,
       [](LearnerCore& c) {
         std::vector<RankedGroup> b = Ranked();
         b[0].responses.assign(kMaxRankedResponses + 1, kGood);
         b[0].ranks.resize(b[0].responses.size());
         for (size_t r = 0; r < b[0].ranks.size(); ++r) b[0].ranks[r] = static_cast<int>(r);
         return c.TrainRanked("session", b).status();
       },
       "65 responses; at most 64"},
  };
  for (const Bad& bad : cases) {
    SCOPED_TRACE(bad.message);
    LearnerCore core(TestStorage());
    Start(core, Options(bad.algorithm));
    const absl::Status status = bad.call(core);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(bad.message));
    EXPECT_EQ(core.Status()->policy_version, 0u);
    // A good batch still trains.
    EXPECT_GT(Train(core, bad.algorithm, 1).policy_version, 0u);
  }
}

// Valid requests keep every loss finite (log-ratios and KL estimates are clamped, values are
// bounded), but a policy can still hold non-finite weights: a diverged run's checkpoint. Here
// the embedding of token 60 is +inf, so exactly the rows that contain it go non-finite.
constexpr int64_t kPoisonedToken = 60;

SessionOptions PoisonedOptions(SessionOptions o, const fs::path& dir) {
  const fs::path poisoned = dir / "poisoned";
  if (!fs::exists(poisoned / "config.json")) {
    absl::StatusOr<model::Transformer> m = model::LoadHfModel(dir);
    EXPECT_TRUE(m.ok()) << m.status();
    {
      torch::NoGradGuard no_grad;
      (*m)->embed_tokens()[kPoisonedToken].fill_(INFINITY);
    }
    EXPECT_TRUE(model::SaveHfModel(**m, poisoned).ok());
  }
  o.policy_path = poisoned.string();
  o.ppo.whiten_advantages = false;  // keeps the other rows' advantages finite
  return o;
}

std::vector<Experience> WithPoisonedRow(std::vector<Experience> batch, size_t bad_row) {
  if (bad_row < batch.size()) {
    batch[bad_row].response = {kPoisonedToken, 61, 62};
    batch[bad_row].ref_logprobs.assign(3, -4.0f);
  }
  return batch;
}

TEST_F(LearnerCoreTest, ANonFiniteLossAppliesNothingAndTheSessionTrainsOn) {
  LearnerCore core(TestStorage()), fresh(TestStorage());
  Start(core, PoisonedOptions(Options(Algorithm::kPpo), *dir_));
  Start(fresh, PoisonedOptions(Options(Algorithm::kPpo), *dir_));
  absl::StatusOr<TrainStats> bad =
      core.TrainExperience("session", WithPoisonedRow(Rollouts(), 5), 1.0);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("the PPO loss is not finite"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("no optimizer step was applied"));
  EXPECT_EQ(core.Status()->policy_version, 0u);
  EXPECT_EQ(MaxDifference(core, fresh), 0.0);
  const std::vector<Experience> good = Rollouts();
  ASSERT_TRUE(core.TrainExperience("session", good, 1.0).ok());
  ASSERT_TRUE(fresh.TrainExperience("session", good, 1.0).ok());
  EXPECT_EQ(MaxDifference(core, fresh), 0.0);
}

TEST_F(LearnerCoreTest, ANonFiniteLossOnOneRankStopsTheStepOnEveryRank) {
  std::vector<absl::Status> bad(2);
  std::vector<uint64_t> versions(2);
  std::vector<absl::StatusOr<PolicyWeights>> weights(2, absl::InternalError("not run"));
  const SessionOptions poisoned = PoisonedOptions(Options(Algorithm::kPpo), *dir_);
  OnTwoRanks([&](LearnerCore& core, int rank) {
    SessionOptions o = poisoned;
    o.micro_batch_size = 1;
    Start(core, o);
    // Row 7 is in rank 1's half of the batch: only rank 1 sees the non-finite loss.
    bad[rank] = core.TrainExperience("session", WithPoisonedRow(Rollouts(), 7), 1.0).status();
    versions[rank] = core.Status()->policy_version;
    EXPECT_TRUE(core.TrainExperience("session", Rollouts(), 1.0).ok());
    weights[rank] = core.Weights("session", torch::kFloat);
  });
  EXPECT_EQ(bad[0].code(), absl::StatusCode::kFailedPrecondition) << bad[0];
  EXPECT_THAT(std::string(bad[0].message()), HasSubstr("not finite on another data-parallel rank"));
  EXPECT_EQ(bad[1].code(), absl::StatusCode::kFailedPrecondition) << bad[1];
  EXPECT_THAT(std::string(bad[1].message()), HasSubstr("the PPO loss is not finite"));
  EXPECT_EQ(versions[0], 0u);
  EXPECT_EQ(versions[1], 0u);
  ASSERT_TRUE(weights[0].ok() && weights[1].ok());
  for (const auto& [name, t] : weights[0]->tensors) {
    EXPECT_TRUE(t.equal(weights[1]->tensors.at(name))) << name;
  }
}

// TrainingConfig.ppo.recompute_behavior_logprobs and gradient_checkpointing used to be read by
// nobody: a session asking for them trained as if it had not.
TEST_F(LearnerCoreTest, RecomputedBehaviourLogProbsIgnoreTheRolloutsOnes) {
  std::vector<Experience> stale = Rollouts();
  for (Experience& e : stale) e.logprobs.assign(e.response.size(), -0.5f);
  std::vector<Experience> bare = Rollouts();  // no log-probs: the learner computes them
  SessionOptions o = Options(Algorithm::kPpo);
  o.ppo.epochs = 2;
  LearnerCore recomputing(TestStorage()), computing(TestStorage()), trusting(TestStorage());
  o.ppo.recompute_behavior_logprobs = true;
  Start(recomputing, o);
  o.ppo.recompute_behavior_logprobs = false;
  Start(computing, o);
  Start(trusting, o);
  ASSERT_TRUE(recomputing.TrainExperience("session", stale, 1.0).ok());
  ASSERT_TRUE(computing.TrainExperience("session", bare, 1.0).ok());
  ASSERT_TRUE(trusting.TrainExperience("session", stale, 1.0).ok());
  EXPECT_LT(MaxDifference(recomputing, computing), 1e-6);
  EXPECT_GT(MaxDifference(trusting, computing), 1e-4);  // the flag is what made the difference
}

// With LoRA too (its frozen embedding once left the checkpointed layers without a backward:
// every Train call failed INTERNAL).
TEST_F(LearnerCoreTest, GradientCheckpointingTrainsTheSameWeights) {
  for (const bool lora : {false, true}) {
    SessionOptions o = Options(Algorithm::kSft);
    if (lora) o.lora = model::LoraOptions{.rank = 4};
    LearnerCore plain(TestStorage()), checkpointed(TestStorage());
    Start(plain, o);
    o.gradient_checkpointing = true;
    Start(checkpointed, o);
    const std::vector<SftExample> batch = {{"a", kPromptA, kGood, 1.0}, {"b", kPromptB, kBad, 1.0}};
    for (int call = 0; call < 2; ++call) {  // B starts at 0: the second step needs A's gradient
      absl::StatusOr<TrainStats> a = plain.TrainSft("session", batch);
      absl::StatusOr<TrainStats> b = checkpointed.TrainSft("session", batch);
      ASSERT_TRUE(a.ok()) << a.status();
      ASSERT_TRUE(b.ok()) << "lora " << lora << ": " << b.status();
    }
    EXPECT_LT(MaxDifference(plain, checkpointed), 1e-6) << "lora " << lora;
  }
}

// A policy folder whose config asks for more memory than the machine has (a 2^44-token
// vocabulary: 2 PiB, past any address space) is RESOURCE_EXHAUSTED; it once read INTERNAL.
TEST_F(LearnerCoreTest, APolicyTooLargeForMemoryIsResourceExhausted) {
  const fs::path big = *dir_ / "too_large";
  fs::create_directories(big);
  fs::copy(*dir_ / "model.safetensors", big / "model.safetensors");
  std::ifstream in(*dir_ / "config.json");
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = config.find("\"vocab_size\": 64");
  ASSERT_NE(at, std::string::npos) << config;
  config.replace(at, std::string("\"vocab_size\": 64").size(), "\"vocab_size\": 17592186044416");
  std::ofstream(big / "config.json") << config;
  LearnerCore core(TestStorage());
  SessionOptions o = Options(Algorithm::kSft);
  o.policy_path = big.string();
  bool created = false;
  absl::StatusOr<SessionStatus> s = core.StartSession(o, "", true, &created, "session");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted) << s.status();
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("loading the policy"));
  EXPECT_FALSE(core.Status().has_value());
  fs::remove_all(big);
}

// A checkpoint of another kind of session (a reward model's, a LoRA session's) or of another
// dtype is the caller's mistake: INVALID_ARGUMENT naming what does not fit, and the session's
// weights stay as they were. Before, each loaded the weights, then failed INTERNAL on the
// optimizer state (or, for the dtype, broke every later Train call).
TEST_F(LearnerCoreTest, ACheckpointOfAnotherSessionKindOrDtypeIsRefusedAndChangesNothing) {
  const std::vector<SftExample> batch = {{"a", kPromptA, kGood, 1.0}};
  auto save = [&](SessionOptions o, const std::string& path) {
    LearnerCore core(TestStorage());
    Start(core, o);
    Train(core, o.algorithm, 1);
    absl::StatusOr<CheckpointInfo> saved = core.SaveCheckpoint("session", path, false, true);
    ASSERT_TRUE(saved.ok()) << saved.status();
  };
  save(Options(Algorithm::kRewardModel), "reward_model");
  SessionOptions lora = Options(Algorithm::kSft);
  lora.lora = model::LoraOptions{.rank = 2};
  save(lora, "lora");
  SessionOptions bf16 = Options(Algorithm::kSft);
  bf16.dtype = "bfloat16";
  save(bf16, "bf16");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"reward_model", "reward_head is not a parameter of the model"},
      {"lora", "layers.0.lora_qkv_0_a is not a parameter of the model"},
      {"bf16", "has dtype BFloat16, the model has Float"}};
  for (const auto& [path, problem] : cases) {
    LearnerCore core(TestStorage()), untouched(TestStorage());
    Start(core, Options(Algorithm::kSft));
    Start(untouched, Options(Algorithm::kSft));
    const absl::StatusOr<CheckpointInfo> loaded = core.LoadCheckpoint("session", path, false);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << loaded.status();
    EXPECT_THAT(std::string(loaded.status().message()), ::testing::HasSubstr(problem));
    EXPECT_EQ(MaxDifference(core, untouched), 0.0) << path;
    const absl::StatusOr<TrainStats> trained = core.TrainSft("session", batch);
    EXPECT_TRUE(trained.ok()) << path << ": " << trained.status();
  }
}

}  // namespace
}  // namespace plumb::learner
