// LearnerCore without gRPC: every algorithm moves a tiny model the way its objective says, two
// data-parallel ranks (Gloo over loopback, one thread each) end with exactly the weights of one
// process on the same batch, gradient accumulation equals one large batch, and bad batches are
// refused with a message.
#include "services/plumb-learner/learner_core.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <optional>

#include "common/api/learner_limits.h"
#include "common/checkpoint/hf_config.h"
#include "services/plumb-learner/learner_core_test_support.h"
#include "services/plumb-learner/learner_session.h"

namespace plumb::learner {
namespace {

using ::testing::HasSubstr;

struct Case {
  const char* name;
  Algorithm algorithm;
  std::function<void(SessionOptions&)> tweak;
};

std::vector<Case> PolicyCases() {
  return {
      {"ppo", Algorithm::kPpo, [](SessionOptions& o) { o.ppo.epochs = 2; }},
      {"ppo_kl_in_loss_entropy", Algorithm::kPpo,
       [](SessionOptions& o) {
         o.ppo.kl_coef = 0.01;
         o.ppo.kl_in_loss = true;
         o.ppo.entropy_coef = 0.01;
         o.ppo.aggregation = LossAggregation::kSequenceMean;
       }},
      {"grpo", Algorithm::kGrpo,
       [](SessionOptions& o) {
         o.critic_free.clip_low = o.critic_free.clip_high = 0.2;
         o.critic_free.kl = {algorithms::KlEstimator::kK3, true, 0.04};
       }},
      {"grpo_dr", Algorithm::kGrpo,
       [](SessionOptions& o) {
         o.critic_free.scale_by_group_std = false;
         o.critic_free.aggregation = LossAggregation::kTokenSumNorm;
       }},
      {"rloo", Algorithm::kRloo, [](SessionOptions& o) { o.critic_free.kl.coef = 0.05; }},
      {"reinforce_moving_average", Algorithm::kReinforce, nullptr},
      {"reinforce_batch_mean", Algorithm::kReinforce,
       [](SessionOptions& o) {
         o.critic_free.baseline = BaselineKind::kBatchMean;
         o.critic_free.advantage_whitening = Whitening::kMeanStd;
       }},
      {"rejection_sampling", Algorithm::kRejectionSamplingSft, nullptr},
      {"dpo_rpo", Algorithm::kDpo, [](SessionOptions& o) { o.dpo_sft_weight = 0.5; }},
      {"kto", Algorithm::kKto, nullptr},
      {"kto_zero_reference", Algorithm::kKto,
       [](SessionOptions& o) { o.kto_reference_point = KtoReferencePoint::kZero; }},
      {"orpo", Algorithm::kOrpo, nullptr},
      {"simpo", Algorithm::kSimpo, [](SessionOptions& o) { o.simpo.cpo_alpha = 0.1; }},
      {"rrhf", Algorithm::kRrhf, nullptr},
  };
}

TEST_F(LearnerCoreTest, EveryPolicyAlgorithmRaisesTheGoodResponseOverTheBadOne) {
  for (const Case& c : PolicyCases()) {
    SCOPED_TRACE(c.name);
    LearnerCore core(TestStorage());
    SessionOptions o = Options(c.algorithm);
    if (c.tweak) c.tweak(o);
    Start(core, o);
    const double before = GoodOverBad(core);
    const TrainStats stats = Train(core, c.algorithm, 4);
    const double after = GoodOverBad(core);
    EXPECT_GT(after - before, 1.0) << "before " << before << " after " << after;
    EXPECT_GT(stats.optimizer_steps, 0u);
    EXPECT_GE(stats.policy_version, 4u);
    EXPECT_TRUE(std::isfinite(stats.losses.at("total")));
    EXPECT_GT(stats.tokens, 0u);
  }
}

TEST_F(LearnerCoreTest, RewardModelLearnsToRankOnPairsWithMarginsAndOnRankedGroups) {
  for (bool ranked : {false, true}) {
    SCOPED_TRACE(ranked ? "ranked" : "pairs");
    LearnerCore core(TestStorage());
    SessionOptions o = Options(Algorithm::kRewardModel);
    o.reward_model.use_margin = !ranked;
    o.reward_model.center_rewards_coef = 0.01;
    Start(core, o);
    ASSERT_EQ(core.Model()->config.num_reward_outputs, 1);
    absl::StatusOr<TrainStats> stats;
    double first_loss = 0;
    for (int i = 0; i < 15; ++i) {
      stats =
          ranked ? core.TrainRanked("session", Ranked()) : core.TrainPreference("session", Pairs());
      ASSERT_TRUE(stats.ok()) << stats.status();
      if (i == 0) first_loss = stats->losses.at("reward_model");
    }
    EXPECT_EQ(stats->metrics.at("rm/accuracy"), 1.0);
    EXPECT_LT(stats->losses.at("reward_model"), 0.7 * first_loss);
    if (ranked) {
      EXPECT_EQ(stats->metrics.at("rm/pairs"), 6.0);
    }
    // The published weights carry the reward head, for a scorer to load.
    absl::StatusOr<PolicyWeights> w = core.Weights("session", torch::kFloat);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->tensors.count("score.weight") + w->tensors.count("reward_head.weight"), 1u);
  }
}

// Soft labels (RLAIF): p = 1 is the hard loss exactly; p = 0 teaches the reverse order, which
// rm/accuracy counts as right; p = 0.8 keeps the loss above its floor, the entropy H(0.8).
TEST_F(LearnerCoreTest, RewardModelTrainsOnPreferenceProbabilities) {
  auto with_probability = [](std::optional<double> p) {
    std::vector<PreferenceExample> pairs = Pairs();
    for (PreferenceExample& pair : pairs) pair.probability = p;
    return pairs;
  };
  LearnerCore hard(TestStorage()), one(TestStorage());
  Start(hard, Options(Algorithm::kRewardModel));
  Start(one, Options(Algorithm::kRewardModel));
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<TrainStats> a = hard.TrainPreference("session", with_probability({}));
    absl::StatusOr<TrainStats> b = one.TrainPreference("session", with_probability(1.0));
    ASSERT_TRUE(a.ok() && b.ok()) << a.status() << " " << b.status();
    EXPECT_EQ(a->losses.at("reward_model"), b->losses.at("reward_model")) << "call " << i;
    EXPECT_EQ(a->metrics.at("rm/accuracy"), b->metrics.at("rm/accuracy"));
  }

  const double entropy = -(0.8 * std::log(0.8) + 0.2 * std::log(0.2));
  for (double p : {0.0, 0.8}) {
    SCOPED_TRACE(p);
    LearnerCore core(TestStorage());
    Start(core, Options(Algorithm::kRewardModel));
    absl::StatusOr<TrainStats> stats;
    for (int i = 0; i < 15; ++i) {
      stats = core.TrainPreference("session", with_probability(p));
      ASSERT_TRUE(stats.ok()) << stats.status();
    }
    EXPECT_EQ(stats->metrics.at("rm/accuracy"), 1.0);
    if (p == 0.0) {
      EXPECT_LT(stats->metrics.at("rewards/chosen"), stats->metrics.at("rewards/rejected"));
    } else {
      EXPECT_GT(stats->metrics.at("rewards/chosen"), stats->metrics.at("rewards/rejected"));
      EXPECT_GE(stats->losses.at("reward_model"), entropy - 1e-5);
    }
  }
}

// Several passes of minibatches in one call: one optimizer step per minibatch, every
// comparison counted once per pass, and the ranking learnt in fewer calls than one step each.
TEST_F(LearnerCoreTest, RewardModelEpochsOfMinibatchesStepOncePerMinibatch) {
  LearnerCore one_step(TestStorage()), passes(TestStorage());
  SessionOptions o = Options(Algorithm::kRewardModel);
  Start(one_step, o);
  o.reward_model.epochs = 3;
  o.reward_model.minibatch_size = 1;
  Start(passes, o);
  absl::StatusOr<TrainStats> single = one_step.TrainPreference("session", Pairs());
  absl::StatusOr<TrainStats> several = passes.TrainPreference("session", Pairs());
  ASSERT_TRUE(single.ok()) << single.status();
  ASSERT_TRUE(several.ok()) << several.status();
  EXPECT_EQ(single->optimizer_steps, 1u);
  EXPECT_EQ(several->optimizer_steps, 6u);  // 3 passes x 2 pairs of 1
  EXPECT_EQ(several->policy_version, 6u);
  EXPECT_EQ(several->metrics.at("epochs"), 3.0);
  // The first pass's statistics: each pair scored before any step on it.
  EXPECT_GE(several->metrics.at("rm/last_pass_accuracy"), several->metrics.at("rm/accuracy"));
  EXPECT_EQ(several->tokens, 3 * single->tokens);
  // After one call each, six steps have separated the pair further than one.
  absl::StatusOr<TrainStats> single_after = one_step.TrainPreference("session", Pairs());
  absl::StatusOr<TrainStats> several_after = passes.TrainPreference("session", Pairs());
  ASSERT_TRUE(single_after.ok() && several_after.ok());
  EXPECT_LT(several_after->losses.at("reward_model"), single_after->losses.at("reward_model"));

  // Bounds, and no mixing with accumulation across calls (on a learner with no session).
  LearnerCore fresh(TestStorage());
  bool created = false;
  o.reward_model.epochs = kMaxEpochs + 1;
  absl::StatusOr<SessionStatus> s = fresh.StartSession(o, "", false, &created);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("reward_model.epochs"));
  o.reward_model.epochs = 2;
  o.reward_model.minibatch_size = -1;
  s = fresh.StartSession(o, "", false, &created);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("reward_model.minibatch_size"));
  o.reward_model.minibatch_size = 0;
  o.gradient_accumulation_steps = 2;
  s = fresh.StartSession(o, "", false, &created);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("gradient_accumulation_steps"));
}

// A new reward head reads what the session asks; its checkpoint and its weight streams say so,
// and a checkpoint whose head reads otherwise is refused rather than re-read another way.
TEST_F(LearnerCoreTest, ARewardModelsReadoutTravelsWithItsCheckpointAndWeights) {
  LearnerCore core(TestStorage());
  SessionOptions o = Options(Algorithm::kRewardModel);
  o.reward_model.readout = model::RewardReadout::kResponseMean;
  Start(core, o);
  absl::StatusOr<TrainStats> trained = core.TrainPreference("session", Pairs());
  ASSERT_TRUE(trained.ok()) << trained.status();
  absl::StatusOr<PolicyWeights> weights = core.Weights("session", torch::kFloat);
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(weights->architecture, "llama/reward_readout=response_mean");
  absl::StatusOr<CheckpointInfo> saved = core.SaveCheckpoint("session", "mean_rm", true, true);
  ASSERT_TRUE(saved.ok()) << saved.status();
  absl::StatusOr<model::ModelConfig> config =
      checkpoint::ReadHfConfig(fs::path(saved->path) / "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_reward_outputs, 1);
  EXPECT_EQ(config->reward_readout, model::RewardReadout::kResponseMean);

  // Continuing from it: unset keeps the head's readout; asking the other one is refused.
  o.policy_path = saved->path;
  o.reward_model.readout.reset();
  LearnerCore again(TestStorage());
  Start(again, o);
  EXPECT_EQ(again.Weights("session", torch::kFloat)->architecture,
            "llama/reward_readout=response_mean");
  o.reward_model.readout = model::RewardReadout::kLastToken;
  LearnerCore refused(TestStorage());
  bool created = false;
  absl::StatusOr<SessionStatus> s = refused.StartSession(o, "", false, &created);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("config.reward_model.readout: last_token asked, but the checkpoint's "
                        "reward head reads response_mean"));
  // A policy session's weights stay plain "llama".
  LearnerCore policy(TestStorage());
  Start(policy, Options(Algorithm::kDpo));
  EXPECT_EQ(policy.Weights("session", torch::kFloat)->architecture, "llama");
}

TEST_F(LearnerCoreTest, GradientAccumulationOverTwoCallsEqualsOneCallOnTheWholeBatch) {
  LearnerCore whole(TestStorage()), split(TestStorage());
  SessionOptions o = Options(Algorithm::kDpo);
  Start(whole, o);
  o.gradient_accumulation_steps = 2;
  Start(split, o);
  std::vector<PreferenceExample> pairs = Pairs();
  ASSERT_TRUE(whole.TrainPreference("session", pairs).ok());
  absl::StatusOr<TrainStats> first = split.TrainPreference("session", {pairs[0]});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->optimizer_steps, 0u);
  EXPECT_EQ(first->policy_version, 0u);
  absl::StatusOr<TrainStats> second = split.TrainPreference("session", {pairs[1]});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->optimizer_steps, 1u);
  EXPECT_EQ(second->policy_version, 1u);
  auto a = whole.Weights("session", torch::kFloat), b = split.Weights("session", torch::kFloat);
  for (const auto& [name, t] : a->tensors) {
    // Float summation order differs; Adam turns that into updates of ~1e-6 at lr 1e-2.
    EXPECT_LT((t - b->tensors.at(name)).abs().max().item<double>(), 5e-6) << name;
  }
}

// Two ranks in two threads against one process on the same batches: same weights, same loss.
TEST_F(LearnerCoreTest, TwoDataParallelRanksEndWithTheWeightsOfOneProcess) {
  const std::vector<Case> cases = {
      {"ppo", Algorithm::kPpo,
       [](SessionOptions& o) {
         o.ppo.epochs = 2;
         o.ppo.minibatch_size = 4;
         o.ppo.kl_coef = 0.05;
       }},
      {"grpo", Algorithm::kGrpo, [](SessionOptions& o) { o.critic_free.kl.coef = 0.04; }},
      {"rloo", Algorithm::kRloo, nullptr},
      {"sft", Algorithm::kSft, nullptr},
      {"dpo", Algorithm::kDpo, nullptr},
      {"kto", Algorithm::kKto, nullptr},
      {"rrhf", Algorithm::kRrhf, nullptr},
      {"reward_model", Algorithm::kRewardModel, nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SessionOptions o = Options(c.algorithm);
    if (c.tweak) c.tweak(o);
    LearnerCore single(TestStorage());
    Start(single, o);
    const TrainStats expected = Train(single, c.algorithm, 2);
    absl::StatusOr<PolicyWeights> want = single.Weights("session", torch::kFloat);
    ASSERT_TRUE(want.ok());

    std::vector<TrainStats> got(2);
    std::vector<absl::StatusOr<PolicyWeights>> weights(2, absl::InternalError("not run"));
    OnTwoRanks([&](LearnerCore& core, int rank) {
      SessionOptions ro = o;
      ro.micro_batch_size = 1;  // and micro-batches of one on the ranks
      Start(core, ro);
      got[rank] = Train(core, c.algorithm, 2);
      weights[rank] = core.Weights("session", torch::kFloat);
    });
    for (int rank = 0; rank < 2; ++rank) {
      ASSERT_TRUE(weights[rank].ok());
      EXPECT_EQ(got[rank].policy_version, expected.policy_version);
      EXPECT_NEAR(got[rank].losses.at("total"), expected.losses.at("total"),
                  1e-5 * (1 + std::abs(expected.losses.at("total"))));
      EXPECT_NEAR(got[rank].grad_norm, expected.grad_norm, 1e-4 * (1 + expected.grad_norm));
      double worst = 0;
      for (const auto& [name, t] : want->tensors) {
        worst = std::max(worst, (t - weights[rank]->tensors.at(name)).abs().max().item<double>());
      }
      // Two steps at lr 1e-2 (every step now runs at the full rate: the core's schedule
      // defaulted to cosine with no horizon, which set the rate to 0 after the first step).
      EXPECT_LT(worst, 1e-4) << "rank " << rank;
    }
  }
}

TEST(MinibatchOrderTest, EachEpochDrawsItsOwnReproduciblePartition) {
  const std::vector<int64_t> first = MinibatchOrder(11, 0, 0, 8);
  EXPECT_EQ(first, MinibatchOrder(11, 0, 0, 8));  // reproducible
  std::vector<int64_t> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, std::vector<int64_t>({0, 1, 2, 3, 4, 5, 6, 7}));  // a permutation
  // Another epoch, call (version) or seed gives another order.
  EXPECT_NE(first, MinibatchOrder(11, 0, 1, 8));
  EXPECT_NE(first, MinibatchOrder(11, 4, 0, 8));
  EXPECT_NE(first, MinibatchOrder(12, 0, 0, 8));
  // Minibatches of 4: the first minibatch's rows differ between epochs 0 and 1.
  auto first_half = [](std::vector<int64_t> order) {
    std::vector<int64_t> half(order.begin(), order.begin() + 4);
    std::sort(half.begin(), half.end());
    return half;
  };
  EXPECT_NE(first_half(MinibatchOrder(11, 0, 0, 8)), first_half(MinibatchOrder(11, 0, 1, 8)));
}

// Minibatches were never shuffled: every epoch used the same partition, and the seed did not
// matter. Now the partition follows the seed, reproducibly.
TEST_F(LearnerCoreTest, MinibatchPartitionsFollowTheSeedReproducibly) {
  for (Algorithm algorithm : {Algorithm::kGrpo, Algorithm::kPpo}) {
    SCOPED_TRACE(algorithm == Algorithm::kGrpo ? "grpo" : "ppo");
    auto trained = [&](uint64_t seed) {
      SessionOptions o = Options(algorithm);
      o.seed = seed;
      o.ppo.epochs = o.critic_free.epochs = 2;
      o.ppo.minibatch_size = o.critic_free.minibatch_size = 2;
      auto core = std::make_unique<LearnerCore>(TestStorage());
      Start(*core, o);
      Train(*core, algorithm, 1);
      return core;
    };
    std::unique_ptr<LearnerCore> a = trained(11), b = trained(11), c = trained(12);
    EXPECT_EQ(MaxDifference(*a, *b), 0.0) << "the same seed gave other weights";
    if (algorithm == Algorithm::kGrpo) {
      // GRPO draws nothing else from the seed (no value head): only the order differs.
      EXPECT_GT(MaxDifference(*a, *c), 1e-6) << "the seed does not change the minibatches";
    }
  }
}

TEST_F(LearnerCoreTest, EarlyStopKlEndsTheEpochsOnceThePolicyMovesTooFar) {
  LearnerCore core(TestStorage());
  SessionOptions o = Options(Algorithm::kPpo);
  o.optimizer.lr = 0.1;
  o.ppo.epochs = 8;
  o.ppo.early_stop_kl = 1e-4;
  Start(core, o);
  absl::StatusOr<TrainStats> stats = core.TrainExperience("session", Rollouts(), 1.0);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->metrics.at("early_stopped"), 1.0);
  EXPECT_LT(stats->metrics.at("epochs"), 8.0);
  EXPECT_EQ(stats->optimizer_steps, stats->metrics.at("epochs"));
}

TEST_F(LearnerCoreTest, BadBatchesAreRefusedWithAMessageAndNothingIsTrained) {
  struct Bad {
    Algorithm algorithm;
    std::function<absl::Status(LearnerCore&)> call;
    absl::StatusCode code;
    const char* message;
  };
  const std::vector<Bad> cases = {
      {Algorithm::kGrpo,
       [](LearnerCore& c) {
         std::vector<Experience> b = Rollouts();
         b.resize(5);  // group "b" keeps one sample
         return c.TrainExperience("session", b, 1.0).status();
       },
       absl::StatusCode::kInvalidArgument, "prompt group 'b' has 1 sample"},
      {Algorithm::kKto,
       [](LearnerCore& c) { return c.TrainUnpaired("session", {Unpaired()[0]}).status(); },
       absl::StatusCode::kInvalidArgument, "at least 2 examples"},
      {Algorithm::kKto,
       [](LearnerCore& c) {
         std::vector<UnpairedExample> b = Unpaired();
         b[1].ref_logprob.reset();
         return c.TrainUnpaired("session", b).status();
       },
       absl::StatusCode::kInvalidArgument, "reference_logprob is required"},
      {Algorithm::kRrhf,
       [](LearnerCore& c) {
         std::vector<RankedGroup> b = Ranked();
         b[0].ranks = {1, 1, 1};
         return c.TrainRanked("session", b).status();
       },
       absl::StatusCode::kInvalidArgument, "at least 2 distinct ranks"},
      {Algorithm::kRrhf,
       [](LearnerCore& c) {
         std::vector<RankedGroup> b = Ranked();
         b[1].responses[0] = {99};
         return c.TrainRanked("session", b).status();
       },
       absl::StatusCode::kInvalidArgument, "outside the vocabulary"},
      {Algorithm::kRewardModel,
       [](LearnerCore& c) {
         std::vector<PreferenceExample> b = Pairs();
         b[0].margin = -1;
         return c.TrainPreference("session", b).status();
       },
       absl::StatusCode::kInvalidArgument, "the margin = -1 is outside [0, 1e+06]"},
      {Algorithm::kRewardModel,
       [](LearnerCore& c) {
         std::vector<PreferenceExample> b = Pairs();
         b[1].probability = 1.5;
         return c.TrainPreference("session", b).status();
       },
       absl::StatusCode::kInvalidArgument,
       "pair 'b': the preference_probability = 1.5 is outside [0, 1]"},
      {Algorithm::kRewardModel,
       [](LearnerCore& c) {
         std::vector<PreferenceExample> b = Pairs();
         b[0].probability = std::nan("");
         return c.TrainPreference("session", b).status();
       },
       absl::StatusCode::kInvalidArgument, "pair 'a': the preference_probability is not finite"},
      {Algorithm::kDpo,  // checked for every algorithm, though only the reward model uses it
       [](LearnerCore& c) {
         std::vector<PreferenceExample> b = Pairs();
         b[0].probability = -0.5;
         return c.TrainPreference("session", b).status();
       },
       absl::StatusCode::kInvalidArgument,
       "pair 'a': the preference_probability = -0.5 is outside [0, 1]"},
      {Algorithm::kKto,
       [](LearnerCore& c) { return c.TrainPreference("session", Pairs()).status(); },
       absl::StatusCode::kInvalidArgument, "does not train on preference batches"},
      {Algorithm::kOrpo, [](LearnerCore& c) { return c.TrainRanked("session", Ranked()).status(); },
       absl::StatusCode::kInvalidArgument, "does not train on ranked batches"},
  };
  for (const Bad& bad : cases) {
    SCOPED_TRACE(bad.message);
    LearnerCore core(TestStorage());
    Start(core, Options(bad.algorithm));
    const absl::Status status = bad.call(core);
    EXPECT_EQ(status.code(), bad.code) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(bad.message));
    EXPECT_EQ(core.Status()->policy_version, 0u);
  }
}

TEST_F(LearnerCoreTest, MaxPolicyLagRefusesStaleRollouts) {
  LearnerCore core(TestStorage());
  SessionOptions o = Options(Algorithm::kGrpo);
  o.max_policy_lag = 1;
  Start(core, o);
  std::vector<Experience> batch = Rollouts();
  ASSERT_TRUE(core.TrainExperience("session", batch, 1.0).ok());  // version 0 -> 1
  ASSERT_TRUE(core.TrainExperience("session", batch, 1.0).ok());  // lag 1: allowed, -> 2
  absl::StatusOr<TrainStats> stale = core.TrainExperience("session", batch, 1.0);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(stale.status().message()), HasSubstr("max_policy_lag 1"));
  for (Experience& e : batch) e.policy_version = 2;
  EXPECT_TRUE(core.TrainExperience("session", batch, 1.0).ok());
}

// Truncated importance sampling: rollouts whose own log-probs are far below the learner's (as if
// sampled by older weights) count min(exp(recomputed - rollout), cap) times each token; with
// every token capped, the mean weight is the cap and the update differs from the unweighted one.
TEST_F(LearnerCoreTest, TruncatedImportanceSamplingWeightsTokensByTheCappedRatio) {
  std::vector<Experience> batch = Rollouts();
  for (Experience& e : batch) e.logprobs.assign(e.response.size(), -50.0f);  // far behind
  auto train = [&](std::optional<double> cap) {
    LearnerCore core(TestStorage());
    SessionOptions o = Options(Algorithm::kPpo);
    o.ppo.recompute_behavior_logprobs = true;
    o.ppo.epochs = 1;
    o.ppo.whiten_advantages = false;  // whitened advantages average to 0, and so would the loss
    o.ppo.tis_cap = cap;
    Start(core, o);
    absl::StatusOr<TrainStats> stats = core.TrainExperience("session", batch, 1.0);
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.value_or(TrainStats());
  };
  const TrainStats capped = train(2.0);
  const TrainStats plain = train(std::nullopt);
  EXPECT_NEAR(capped.metrics.at("tis/weight_mean"), 2.0, 1e-6);
  EXPECT_NEAR(capped.metrics.at("tis/capped_fraction"), 1.0, 1e-6);
  EXPECT_FALSE(plain.metrics.contains("tis/weight_mean"));
  ASSERT_GT(std::abs(plain.losses.at("policy")), 1e-3);
  EXPECT_NEAR(capped.losses.at("policy"), 2.0 * plain.losses.at("policy"),
              1e-4 * std::abs(plain.losses.at("policy")) + 1e-6);
}

TEST_F(LearnerCoreTest, TruncatedImportanceSamplingNeedsRecomputedBehaviourLogProbs) {
  LearnerCore core(TestStorage());
  SessionOptions o = Options(Algorithm::kPpo);
  o.ppo.tis_cap = 2.0;
  bool created = false;
  absl::StatusOr<SessionStatus> s = core.StartSession(o, "", false, &created);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("ppo.tis_cap"));
  o.ppo.recompute_behavior_logprobs = true;
  o.ppo.tis_cap = 0.5;  // below 1 would down-weight on-policy tokens
  s = core.StartSession(o, "", false, &created);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LearnerCoreTest, OnPolicyAlgorithmsRefuseGradientAccumulation) {
  LearnerCore core(TestStorage());
  SessionOptions o = Options(Algorithm::kPpo);
  o.gradient_accumulation_steps = 2;
  bool created = false;
  absl::StatusOr<SessionStatus> s = core.StartSession(o, "", false, &created);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("gradient_accumulation_steps"));
}

}  // namespace
}  // namespace plumb::learner
