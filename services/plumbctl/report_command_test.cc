// The figures and checks of `plumbctl report` on evaluation events as the coordinator stores them.
#include "services/plumbctl/report_command.h"

#include <gtest/gtest.h>

#include <cmath>

namespace plumb::plumbctl {
namespace {

v1::JobEvent Evaluation(const std::string& stage, double mean, double sd, double n, double unique,
                        double length, double distinct_2) {
  v1::JobEvent e;
  e.set_type(v1::JOB_EVENT_TYPE_EVALUATION);
  e.set_stage_name(stage);
  (*e.mutable_metrics())["eval/reward_mean"] = mean;
  (*e.mutable_metrics())["eval/reward_std"] = sd;
  (*e.mutable_metrics())["eval/rollouts"] = n;
  (*e.mutable_metrics())["eval/unique_responses"] = unique;
  (*e.mutable_metrics())["eval/response_tokens_mean"] = length;
  (*e.mutable_metrics())["eval/distinct_2"] = distinct_2;
  e.set_message(
      "evaluation after round 0\nsamples: [{\"prompt\":\"Art is a\",\"response\":\" joy\","
      "\"score\":3}]");
  return e;
}

TEST(ReportTest, JudgeFiguresCarryTheNinetyFivePercentIntervalAndTheSamples) {
  const JudgeFigures j = JudgeFiguresOf(Evaluation("eval-sft", 0.5, 2.0, 256, 0.97, 30, 0.6));
  EXPECT_EQ(j.stage, "eval-sft");
  EXPECT_NEAR(j.low, 0.5 - 1.96 * 2.0 / 16, 1e-12);
  EXPECT_NEAR(j.high, 0.5 + 1.96 * 2.0 / 16, 1e-12);
  EXPECT_FALSE(j.has_kl);
  EXPECT_NE(j.samples_json.find("Art is a"), std::string::npos);
}

TEST(ReportTest, AGainPassesOnlyWithIntervalsApartAndNoCollapse) {
  const JudgeFigures before = JudgeFiguresOf(Evaluation("a", 0.2, 1.0, 256, 0.98, 30, 0.60));
  // A real gain: intervals apart, diversity and length kept.
  AlignmentChecks ok =
      CheckAlignment(before, JudgeFiguresOf(Evaluation("b", 0.8, 1.0, 256, 0.95, 27, 0.55)));
  EXPECT_TRUE(ok.gain);
  EXPECT_TRUE(ok.passed());
  // Overlapping intervals are no gain.
  EXPECT_FALSE(
      CheckAlignment(before, JudgeFiguresOf(Evaluation("b", 0.3, 1.0, 256, 0.95, 30, 0.6))).gain);
  // The collapse of the prototype: one positive phrase repeated.
  AlignmentChecks collapse =
      CheckAlignment(before, JudgeFiguresOf(Evaluation("b", 9.9, 0.5, 256, 0.34, 19, 0.1)));
  EXPECT_TRUE(collapse.gain);
  EXPECT_FALSE(collapse.unique_ok);
  EXPECT_FALSE(collapse.length_ok);
  EXPECT_FALSE(collapse.distinct_ok);
  EXPECT_FALSE(collapse.passed());
}

}  // namespace
}  // namespace plumb::plumbctl
