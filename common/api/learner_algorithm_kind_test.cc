// The learner algorithm registry: every algorithm has its kind, lookups of unknown ones name the
// field, malformed or repeated kinds are refused, and a kind registered by a test alone gets its
// defaults and validation through SessionOptions without any other code knowing it.
#include "common/api/learner_algorithm_kind.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"

namespace plumb::learner {
namespace {

using ::testing::HasSubstr;

constexpr Algorithm kEveryAlgorithm[] = {
    Algorithm::kSft,
    Algorithm::kRewardModel,
    Algorithm::kPpo,
    Algorithm::kGrpo,
    Algorithm::kRloo,
    Algorithm::kReinforce,
    Algorithm::kRejectionSamplingSft,
    Algorithm::kDpo,
    Algorithm::kKto,
    Algorithm::kOrpo,
    Algorithm::kSimpo,
    Algorithm::kRrhf,
};

TEST(LearnerAlgorithmKindTest, EveryAlgorithmHasExactlyOneBuiltinKind) {
  const LearnerAlgorithmRegistry& kinds = BuiltinLearnerAlgorithms();
  EXPECT_EQ(kinds.kinds().size(), std::size(kEveryAlgorithm));
  std::set<std::string> names;
  for (Algorithm a : kEveryAlgorithm) {
    absl::StatusOr<const LearnerAlgorithmKind*> kind = kinds.Find(a);
    ASSERT_TRUE(kind.ok()) << static_cast<int>(a) << ": " << kind.status();
    EXPECT_EQ((*kind)->algorithm, a);
    EXPECT_TRUE(names.insert((*kind)->name).second) << (*kind)->name;
    absl::StatusOr<const LearnerAlgorithmKind*> by_name = kinds.Find((*kind)->name);
    ASSERT_TRUE(by_name.ok()) << by_name.status();
    EXPECT_EQ(*by_name, *kind);
    // The defaults of every builtin algorithm are valid on their own.
    EXPECT_TRUE(SessionOptions::Defaults(a).Validate().ok()) << (*kind)->name;
  }
}

TEST(LearnerAlgorithmKindTest, AnUnknownAlgorithmIsInvalidArgumentNamingTheField) {
  absl::StatusOr<const LearnerAlgorithmKind*> kind =
      BuiltinLearnerAlgorithms().Find(static_cast<Algorithm>(99));
  EXPECT_EQ(kind.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(kind.status().message()),
              HasSubstr("config.algorithm: unknown value 99"));

  SessionOptions options;
  options.algorithm = static_cast<Algorithm>(99);
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(options.Validate().message()), HasSubstr("config.algorithm"));
}

TEST(LearnerAlgorithmKindTest, AnUnknownNameIsInvalidArgumentListingTheKnownOnes) {
  absl::StatusOr<const LearnerAlgorithmKind*> kind = BuiltinLearnerAlgorithms().Find("ppo2");
  EXPECT_EQ(kind.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(kind.status().message()),
              HasSubstr("config.algorithm: unknown algorithm \"ppo2\" (known: sft, reward_model, "
                        "ppo, grpo, rloo, reinforce, rejection_sampling, dpo, kto, orpo, simpo, "
                        "rrhf)"));
}

TEST(LearnerAlgorithmKindTest, TheRegistryRefusesMalformedAndRepeatedKinds) {
  LearnerAlgorithmRegistry kinds = BuiltinLearnerAlgorithms();
  LearnerAlgorithmKind unnamed = SftAlgorithm();
  unnamed.algorithm = static_cast<Algorithm>(100);
  unnamed.name.clear();
  EXPECT_EQ(kinds.Add(unnamed).code(), absl::StatusCode::kInvalidArgument);

  LearnerAlgorithmKind no_batches = SftAlgorithm();
  no_batches.algorithm = static_cast<Algorithm>(100);
  no_batches.name = "no_batches";
  no_batches.batches.clear();
  EXPECT_EQ(kinds.Add(no_batches).code(), absl::StatusCode::kInvalidArgument);

  // Experience batches need a rollout update, and a rollout update needs experience batches.
  LearnerAlgorithmKind no_update = PpoAlgorithm();
  no_update.algorithm = static_cast<Algorithm>(100);
  no_update.name = "no_update";
  no_update.rollout_update = RolloutUpdate::kNone;
  EXPECT_EQ(kinds.Add(no_update).code(), absl::StatusCode::kInvalidArgument);
  LearnerAlgorithmKind stray_update = SftAlgorithm();
  stray_update.algorithm = static_cast<Algorithm>(100);
  stray_update.name = "stray_update";
  stray_update.rollout_update = RolloutUpdate::kPpo;
  EXPECT_EQ(kinds.Add(stray_update).code(), absl::StatusCode::kInvalidArgument);

  absl::Status again = kinds.Add(PpoAlgorithm());
  EXPECT_EQ(again.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(again.message()), HasSubstr("registered already"));
  LearnerAlgorithmKind same_name = SftAlgorithm();
  same_name.algorithm = static_cast<Algorithm>(100);
  EXPECT_EQ(kinds.Add(same_name).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kinds.kinds().size(), BuiltinLearnerAlgorithms().kinds().size());
}

// A kind only this test knows: SFT on SFT batches whose weight decay must stay below 0.5, and
// which defaults to a learning rate of 3e-4.
LearnerAlgorithmKind CappedDecaySft() {
  LearnerAlgorithmKind kind = SftAlgorithm();
  kind.algorithm = static_cast<Algorithm>(100);
  kind.name = "capped_decay_sft";
  kind.label = "capped-decay SFT";
  kind.defaults = [](SessionOptions& o) { o.optimizer.lr = 3e-4; };
  kind.validate = [](const SessionOptions& o) -> absl::Status {
    if (o.optimizer.weight_decay < 0.5) return absl::OkStatus();
    return absl::InvalidArgumentError("config.capped_decay_sft: weight_decay must stay below 0.5");
  };
  return kind;
}

TEST(LearnerAlgorithmKindTest, AKindRegisteredByATestGetsItsDefaultsAndValidation) {
  LearnerAlgorithmRegistry kinds = BuiltinLearnerAlgorithms();
  ASSERT_TRUE(kinds.Add(CappedDecaySft()).ok());
  const Algorithm algorithm = static_cast<Algorithm>(100);

  SessionOptions options = SessionOptions::Defaults(algorithm, kinds);
  EXPECT_EQ(options.algorithm, algorithm);
  EXPECT_EQ(options.optimizer.lr, 3e-4);
  EXPECT_TRUE(options.Validate(kinds).ok()) << options.Validate(kinds);
  // The shared checks still apply to it, after its own.
  options.max_sequence_length = -1;
  EXPECT_THAT(std::string(options.Validate(kinds).message()), HasSubstr("max_sequence_length"));
  options.max_sequence_length = 0;
  options.optimizer.weight_decay = 0.7;
  EXPECT_THAT(std::string(options.Validate(kinds).message()),
              HasSubstr("config.capped_decay_sft: weight_decay"));

  // The builtin registry does not know it: no defaults of its own, and Validate refuses it.
  EXPECT_EQ(SessionOptions::Defaults(algorithm).optimizer.lr, SessionOptions().optimizer.lr);
  EXPECT_THAT(std::string(SessionOptions::Defaults(algorithm).Validate().message()),
              HasSubstr("config.algorithm: unknown value 100"));
  ASSERT_TRUE(kinds.Find("capped_decay_sft").ok());
  EXPECT_TRUE((*kinds.Find(algorithm))->Takes(TrainBatchKind::kSft));
  EXPECT_FALSE((*kinds.Find(algorithm))->Takes(TrainBatchKind::kPreference));
}

TEST(LearnerAlgorithmKindTest, OnPolicyKindsRefuseGradientAccumulationAndOfflineOnesTakeIt) {
  for (Algorithm a : kEveryAlgorithm) {
    SessionOptions options = SessionOptions::Defaults(a);
    options.gradient_accumulation_steps = 4;
    const bool on_policy = (*LearnerAlgorithmOf(a))->on_policy;
    EXPECT_EQ(options.Validate().ok(), !on_policy) << (*LearnerAlgorithmOf(a))->name;
  }
  EXPECT_TRUE((*LearnerAlgorithmOf(Algorithm::kPpo))->on_policy);
  EXPECT_FALSE((*LearnerAlgorithmOf(Algorithm::kDpo))->on_policy);
}

TEST(LearnerAlgorithmKindTest, KindsSayWhenBatchesMustCarryReferenceLogProbs) {
  SessionOptions dpo = SessionOptions::Defaults(Algorithm::kDpo);
  const LearnerAlgorithmKind& kind = **LearnerAlgorithmOf(Algorithm::kDpo);
  EXPECT_TRUE(kind.NeedsReference(dpo));
  dpo.dpo.reference_free = true;
  EXPECT_FALSE(kind.NeedsReference(dpo));

  SessionOptions grpo = SessionOptions::Defaults(Algorithm::kGrpo);
  EXPECT_TRUE((*LearnerAlgorithmOf(Algorithm::kGrpo))->NeedsReference(grpo));  // k3 KL of 0.04
  grpo.critic_free.kl.coef = 0;
  EXPECT_FALSE((*LearnerAlgorithmOf(Algorithm::kGrpo))->NeedsReference(grpo));
  EXPECT_FALSE((*LearnerAlgorithmOf(Algorithm::kOrpo))->NeedsReference(dpo));
}

}  // namespace
}  // namespace plumb::learner
