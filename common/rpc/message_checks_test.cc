#include "common/rpc/message_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "plumb/v1/common.pb.h"

namespace plumb::rpc {
namespace {

using ::testing::HasSubstr;

TEST(MessageChecksTest, AcceptsFiniteValuesAndDeclaredEnums) {
  v1::Rollout rollout;
  rollout.add_logprobs(-0.5f);
  rollout.add_logprobs(-3.0f);
  rollout.set_seconds(1.5);
  rollout.set_finish_reason(v1::FINISH_REASON_STOP);
  EXPECT_TRUE(CheckMessageValues(rollout, "rollout").ok());
}

TEST(MessageChecksTest, NamesTheNonFiniteFieldWithItsIndex) {
  v1::Rollout rollout;
  rollout.add_logprobs(-0.5f);
  rollout.add_logprobs(std::numeric_limits<float>::quiet_NaN());
  const absl::Status status = CheckMessageValues(rollout, "request.rollouts[2]");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("request.rollouts[2].logprobs[1]: must be finite"));
}

TEST(MessageChecksTest, FindsInfinityInNestedOptionalFields) {
  v1::SamplingParams sampling;
  sampling.set_top_p(0.9f);
  sampling.set_temperature(std::numeric_limits<float>::infinity());
  const absl::Status status = CheckMessageValues(sampling, "sampling");
  EXPECT_THAT(status.message(), HasSubstr("sampling.temperature: must be finite (got inf)"));
  v1::Rollout rollout;
  rollout.set_seconds(-std::numeric_limits<double>::infinity());
  EXPECT_THAT(CheckMessageValues(rollout, "").message(), HasSubstr("seconds: must be finite"));
}

TEST(MessageChecksTest, RefusesEnumNumbersTheApiDoesNotDeclare) {
  v1::Rollout rollout;
  rollout.set_finish_reason(static_cast<v1::FinishReason>(77));
  const absl::Status status = CheckMessageValues(rollout, "rollout");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("rollout.finish_reason: 77 is not a FinishReason value"));
}

TEST(MessageChecksTest, ChecksEveryElementOfRepeatedMessages) {
  v1::ScoredResponse scored;
  scored.add_scores()->set_value(1.0f);
  scored.add_scores()->set_value(-std::numeric_limits<float>::infinity());
  EXPECT_THAT(CheckMessageValues(scored, "r").message(), HasSubstr("r.scores[1].value"));
}

}  // namespace
}  // namespace plumb::rpc

namespace plumb::rpc {
namespace {

TEST(CheckStringMapTest, EnforcesEntryKeyAndValueLimits) {
  v1::Prompt prompt;
  (*prompt.mutable_metadata())["unsafe"] = "true";
  EXPECT_TRUE(CheckStringMap(prompt.metadata(), "prompts[0].metadata", 32, 64, 1024).ok());
  (*prompt.mutable_metadata())[std::string(100, 'k')] = "v";
  EXPECT_THAT(CheckStringMap(prompt.metadata(), "prompts[0].metadata", 32, 64, 1024).message(),
              ::testing::HasSubstr("must be 1..64 bytes"));
  prompt.mutable_metadata()->clear();
  (*prompt.mutable_metadata())["source"] = std::string(2000, 'v');
  EXPECT_THAT(CheckStringMap(prompt.metadata(), "m", 32, 64, 1024).message(),
              ::testing::HasSubstr("m[\"source\"]: value of 2000 bytes; at most 1024"));
  prompt.mutable_metadata()->clear();
  for (int i = 0; i < 33; ++i) (*prompt.mutable_metadata())[std::to_string(i)] = "x";
  EXPECT_THAT(CheckStringMap(prompt.metadata(), "m", 32, 64, 1024).message(),
              ::testing::HasSubstr("m: 33 entries; at most 32"));
}

}  // namespace
}  // namespace plumb::rpc
