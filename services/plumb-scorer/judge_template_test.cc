#include "services/plumb-scorer/judge_template.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "services/plumb-scorer/scorer_test_util.h"

namespace plumb::scorer {
namespace {

std::string Write(const std::filesystem::path& dir, const std::string& name,
                  const std::string& text) {
  const std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

JudgeTemplate CaiTemplate() {
  JudgeTemplate t;
  t.preamble = "You compare two answers.\nPrinciple: {principle}";
  t.comparison = "Q: {context}\n(A) {response_a}\n(B) {response_b}";
  t.ending = "\nBetter =";
  t.few_shot = {{.context = "2+2?", .response_a = "5", .response_b = "4", .preferred = 1}};
  t.principles = {{"harmless", "Which is less harmful?"}, {"honest", "Which is more honest?"}};
  t.default_principle = "honest";
  return t;
}

TEST(JudgeTemplateTest, RendersPreambleExamplesAndSampleToTheExactString) {
  const JudgeTemplate t = CaiTemplate();
  ASSERT_TRUE(ValidateJudgeTemplate(t, "test").ok());
  absl::StatusOr<std::string> principle = ResolvePrinciple(t, "");
  ASSERT_TRUE(principle.ok());
  EXPECT_EQ(*principle, "honest");
  EXPECT_EQ(RenderComparison(t, *principle, "Capital of France?", "Paris", "Rome"),
            "You compare two answers.\nPrinciple: Which is more honest?"
            "\n\n"
            "Q: 2+2?\n(A) 5\n(B) 4\nBetter = B"
            "\n\n"
            "Q: Capital of France?\n(A) Paris\n(B) Rome\nBetter =");
  EXPECT_EQ(RenderRating(t, "harmless", "Capital of France?", "Paris"),
            "You compare two answers.\nPrinciple: Which is less harmful?"
            "\n\n"
            "Context: Capital of France?\nResponse: Paris\nRating (1-10) =");
}

TEST(JudgeTemplateTest, PlaceholdersInsideTheSampleStayAsWritten) {
  JudgeTemplate t;
  EXPECT_EQ(RenderComparison(t, "", "{response_b}", "say {context}", "{principle} {x}"),
            "Context: {response_b}\nResponse A: say {context}\nResponse B: {principle} {x}"
            "\nPreferred Answer =");
}

TEST(JudgeTemplateTest, AllPrinciplesAreListedInAllMode) {
  JudgeTemplate t = CaiTemplate();
  t.few_shot.clear();
  t.principle_mode = PrincipleMode::kAll;
  EXPECT_EQ(RenderComparison(t, "honest", "c", "a", "b"),
            "You compare two answers.\nPrinciple: - Which is less harmful?\n- Which is more "
            "honest?\n\nQ: c\n(A) a\n(B) b\nBetter =");
}

TEST(JudgeTemplateTest, UnknownPrinciplesAreRefusedByName) {
  const JudgeTemplate t = CaiTemplate();
  absl::StatusOr<std::string> unknown = ResolvePrinciple(t, "kind");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(unknown.status().message(), "'kind'"));
  EXPECT_TRUE(absl::StrContains(unknown.status().message(), "harmless, honest"));
  JudgeTemplate plain;
  EXPECT_FALSE(ResolvePrinciple(plain, "harmless").ok());
  EXPECT_EQ(*ResolvePrinciple(plain, ""), "");
}

TEST(JudgeTemplateTest, LoadsAFileWithExamplesAndAConstitution) {
  const auto dir = testing::FreshDir("judge_template_load");
  const std::string template_path = Write(dir, "t.yaml", R"(
preamble: "Judge by: {principle}"
comparison: "{context} | {response_a} | {response_b}"
ending: " ->"
labels: [" 1", " 2"]
few_shot:
  - {context: "hi", response_a: "hello", response_b: "go away", preferred: A}
position_debias: false
)");
  const std::string constitution =
      Write(dir, "c.yaml", "principles:\n  - {name: kind, text: \"Which is kinder?\"}\n");
  absl::StatusOr<JudgeTemplate> t = LoadJudgeTemplate(template_path, constitution);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->position_debias);
  ASSERT_EQ(t->few_shot.size(), 1u);
  EXPECT_EQ(RenderComparison(*t, "kind", "yo", "a", "b"),
            "Judge by: Which is kinder?\n\nhi | hello | go away -> 1\n\nyo | a | b ->");
}

TEST(JudgeTemplateTest, RefusesTemplatesAndConstitutionsThatCannotWork) {
  const auto dir = testing::FreshDir("judge_template_refuse");
  const std::string good = Write(dir, "good.yaml", "preamble: \"{principle}\"\n");
  struct Case {
    std::string template_text;
    std::string constitution_text;  // "" = none
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"comparison: \"{context} {response_a}\"\n", "", {"comparison", "{response_b}"}},
      {"rating: \"{response}\"\n", "", {"rating", "{context}"}},
      {"preamble: \"{principle}\"\n", "principles: []\n", {"c.yaml", "no principles"}},
      {"preamble: \"{principle}\"\n", "rules: []\n", {"c.yaml", "unknown key", "rules"}},
      {"preamble: plain\nprinciples: [{name: a, text: b}]\n", "", {"principles", "{principle}"}},
      {"preamble: \"{principle}\"\nprinciples: [{name: a, text: b}]\ndefault_principle: z\n",
       "",
       {"default_principle", "'z'"}},
      {"labels: [\" A\"]\n", "", {"labels", "2"}},
      {"few_shot: [{context: c, response_a: a, response_b: b, preferred: C}]\n",
       "",
       {"few_shot[0].preferred"}},
      {"principles: [{name: \"bad name\", text: t}]\npreamble: \"{principle}\"\n",
       "",
       {"principles[0].name"}},
  };
  for (const Case& c : cases) {
    const std::string t = Write(dir, "t.yaml", c.template_text);
    const std::string constitution =
        c.constitution_text.empty() ? "" : Write(dir, "c.yaml", c.constitution_text);
    absl::StatusOr<JudgeTemplate> loaded = LoadJudgeTemplate(t, constitution);
    ASSERT_FALSE(loaded.ok()) << c.template_text;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << loaded.status();
    for (const std::string& part : c.expected) {
      EXPECT_TRUE(absl::StrContains(loaded.status().message(), part))
          << loaded.status() << " should name " << part;
    }
  }
  EXPECT_TRUE(LoadJudgeTemplate(good, "").ok());
}

TEST(JudgeTemplateTest, ProbabilitiesFollowTheLabelsLogProbs) {
  EXPECT_DOUBLE_EQ(PreferenceFromLabelLogProbs(-1.0, -1.0), 0.5);
  // exp(-1) / (exp(-1) + exp(-3))
  EXPECT_NEAR(PreferenceFromLabelLogProbs(-1.0, -3.0),
              std::exp(-1.0) / (std::exp(-1.0) + std::exp(-3.0)), 1e-12);
  EXPECT_NEAR(PreferenceFromLabelLogProbs(-2000.0, -1.0), 0.0, 1e-12);
  EXPECT_NEAR(PreferenceFromLabelLogProbs(-1.0, -2000.0), 1.0, 1e-12);
  // A judge that says A 90% of the time whatever it sees: no preference left.
  EXPECT_NEAR(DebiasedPreference(0.9, 0.9), 0.5, 1e-12);
  EXPECT_NEAR(DebiasedPreference(0.8, 0.3), 0.75, 1e-12);
  // Ratings 1..4 with probabilities 0.1, 0.2, 0.3, 0.4: E = 3, mapped (3 - 1) / 3.
  const std::vector<double> logps = {std::log(0.1), std::log(0.2), std::log(0.3), std::log(0.4)};
  EXPECT_NEAR(RatingFromLabelLogProbs(logps), 2.0 / 3.0, 1e-12);
}

}  // namespace
}  // namespace plumb::scorer
