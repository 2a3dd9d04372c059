#include "services/plumb-scorer/scorer_options.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "services/plumb-scorer/afinn_objective.h"
#include "services/plumb-scorer/lm_judge_objective.h"
#include "services/plumb-scorer/reward_model_objective.h"
#include "services/plumb-scorer/rule_objectives.h"
#include "services/plumb-scorer/scorer.h"
#include "services/plumb-scorer/scorer_test_util.h"

namespace plumb::scorer {
namespace {

std::string ExamplePath() {
  const char* source = std::getenv("PLUMB_SOURCE_DIR");
  return std::string(source != nullptr ? source : ".") + "/configs/services/scorer.example.yaml";
}

// Parses the `scorer:` section of `yaml` (source "test.yaml").
absl::StatusOr<ScorerOptions> ParseYaml(const std::string& yaml, const std::string& base = "") {
  absl::StatusOr<config::ConfigMap> root = config::ConfigMap::FromString(yaml, "test.yaml");
  if (!root.ok()) return root.status();
  absl::StatusOr<std::optional<config::ConfigMap>> section = root->Child("scorer");
  if (!section.ok()) return section.status();
  return ParseScorerOptions(**section, base);
}

std::string ErrorOf(const std::string& yaml) {
  absl::StatusOr<ScorerOptions> options = ParseYaml(yaml);
  EXPECT_FALSE(options.ok());
  return std::string(options.status().message());
}

TEST(ScorerOptionsTest, ExampleConfigParsesAndBuildsAScorer) {
  const std::filesystem::path dir = testing::FreshDir("example");
  testing::WriteTinyRewardModel(dir / "models/rm_help", 1);
  testing::WriteTinyRewardModel(dir / "models/rm_safe", 2);
  testing::WriteTinyRewardModel(dir / "models/judge", 3);
  // The example's judge files are the shipped ones.
  std::filesystem::create_directories(dir / "judges");
  for (const char* file : {"template.yaml", "constitution.yaml"}) {
    std::filesystem::copy_file(
        std::filesystem::path(ExamplePath()).parent_path().parent_path() / "judges" / file,
        dir / "judges" / file);
  }
  absl::StatusOr<config::ConfigMap> root = config::ConfigMap::FromFile(ExamplePath());
  ASSERT_TRUE(root.ok()) << root.status();
  absl::StatusOr<std::optional<config::ConfigMap>> section = root->Child("scorer");
  ASSERT_TRUE(section.ok() && section->has_value());
  absl::StatusOr<ScorerOptions> options = ParseScorerOptions(**section, dir.string());
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_TRUE(root->Finish().ok());

  EXPECT_EQ(options->max_items_per_request, 1024);
  EXPECT_EQ(options->max_batch_size, 32);
  EXPECT_EQ(options->cache_entries, 0);
  ASSERT_EQ(options->objectives.size(), 6u);
  EXPECT_EQ(options->default_judge, "judge");
  const ObjectiveOptions& help = options->objectives[0];
  EXPECT_EQ(help.name, "helpfulness");
  EXPECT_EQ(help.kind, RewardModelObjectiveKind());
  const auto* help_model = KindOptionsAs<RewardModelScorerOptions>(help);
  const auto* safety_model = KindOptionsAs<RewardModelScorerOptions>(options->objectives[1]);
  const auto* sentiment = KindOptionsAs<AfinnOptions>(options->objectives[2]);
  const auto* length = KindOptionsAs<LengthOptions>(options->objectives[3]);
  const auto* format = KindOptionsAs<FormatOptions>(options->objectives[4]);
  ASSERT_TRUE(help_model && safety_model && sentiment && length && format);
  EXPECT_EQ(help_model->path, (dir / "models/rm_help").string());
  EXPECT_FALSE(help_model->sigmoid);
  EXPECT_TRUE(safety_model->sigmoid);
  EXPECT_EQ(options->objectives[2].kind, AfinnObjectiveKind());
  EXPECT_EQ(sentiment->reduce, AfinnReduce::kMean);
  EXPECT_EQ(length->target_chars, 200);
  EXPECT_EQ(length->scale, 100.0);
  EXPECT_EQ(format->pattern, "(?s).*\\n\\nAnswer: .+");
  const CompositionOptions& c = options->composition;
  ASSERT_EQ(c.weights.size(), 3u);
  EXPECT_EQ(c.weights[1].objective, "sentiment");
  EXPECT_EQ(c.weights[1].weight, 0.5);
  ASSERT_TRUE(c.gating.has_value());
  EXPECT_EQ(c.gating->safety_objective, "safety");
  EXPECT_EQ(c.gating->threshold, 0.15);
  EXPECT_EQ(c.gating->prompt_flag_key, "unsafe");
  EXPECT_FALSE(c.logit_transform);
  EXPECT_EQ(c.scale, 1.0);
  auto* judge = KindOptionsAs<LmJudgeOptions>(options->objectives[5]);
  ASSERT_NE(judge, nullptr);
  EXPECT_EQ(judge->template_path, (dir / "judges/template.yaml").string());
  EXPECT_EQ(judge->principle, "harmless");
  judge->judge_tokenizer = "byte";  // the tiny model folder has no tokenizer files

  absl::StatusOr<std::unique_ptr<Scorer>> scorer = Scorer::Create(*options);
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  EXPECT_EQ((*scorer)->Describe().size(), 6u);
  EXPECT_EQ((*scorer)->default_judge(), "judge");
  ASSERT_NE((*scorer)->FindJudge("judge"), nullptr);
  const JudgeDescription described = (*scorer)->FindJudge("judge")->DescribeJudge();
  EXPECT_EQ(described.few_shot_examples, 2);
  ASSERT_EQ(described.principles.size(), 3u);
  EXPECT_EQ(described.principles[0].first, "harmless");  // the constitution's, not the template's
  EXPECT_EQ(described.default_principle, "harmless");
}

TEST(ScorerOptionsTest, SingleObjectiveDefaultsToWeightOneAndEverythingElseToDefaults) {
  absl::StatusOr<ScorerOptions> options =
      ParseYaml("scorer:\n  objectives: [mood]\n  objective_options:\n    mood: {kind: afinn}\n");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->max_items_per_request, 1024);
  EXPECT_EQ(options->max_batch_size, 32);
  ASSERT_NE(KindOptionsAs<AfinnOptions>(options->objectives[0]), nullptr);
  EXPECT_EQ(KindOptionsAs<AfinnOptions>(options->objectives[0])->lexicon, kDefaultAfinnLexiconPath);
  ASSERT_EQ(options->composition.weights.size(), 1u);
  EXPECT_EQ(options->composition.weights[0].objective, "mood");
  EXPECT_EQ(options->composition.weights[0].weight, 1.0);
  EXPECT_FALSE(options->composition.gating.has_value());
}

TEST(ScorerOptionsTest, RelativePathsResolveAgainstTheBaseDirButByteStaysAName) {
  absl::StatusOr<ScorerOptions> options = ParseYaml(
      "scorer:\n  objectives: [rm]\n  objective_options:\n"
      "    rm: {kind: reward_model, path: models/rm, tokenizer: byte}\n",
      "/etc/plumb");
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_NE(KindOptionsAs<RewardModelScorerOptions>(options->objectives[0]), nullptr);
  EXPECT_EQ(KindOptionsAs<RewardModelScorerOptions>(options->objectives[0])->path,
            "/etc/plumb/models/rm");
  EXPECT_EQ(options->objectives[0].tokenizer, "byte");
}

TEST(ScorerOptionsTest, ObjectivesMustBeListed) {
  EXPECT_EQ(ErrorOf("scorer:\n  max_batch_size: 4\n"),
            "test.yaml:2: key 'scorer.objectives': list at least one objective name, e.g. "
            "[helpfulness, sentiment], and describe each under objective_options");
}

TEST(ScorerOptionsTest, ListedObjectiveNeedsOptions) {
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a, b]\n  objective_options:\n    a: {kind: afinn}\n"),
            "test.yaml:4: key 'scorer.objective_options.b': missing; every objective listed in "
            "'objectives' needs a mapping here");
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a]\n"),
            "test.yaml:2: key 'scorer.objective_options': missing; give one mapping per "
            "objective, e.g. objective_options: {a: {kind: afinn}}");
}

TEST(ScorerOptionsTest, OptionsForUnlistedObjectivesAreRejected) {
  EXPECT_EQ(
      ErrorOf("scorer:\n  objectives: [a]\n  objective_options:\n    a: {kind: afinn}\n"
              "    b: {kind: afinn}\n"),
      "test.yaml:5: key 'scorer.objective_options.b': unknown key; did you mean 'a'? (allowed "
      "here: a); an "
      "objective defined here must also be listed in 'objectives'");
}

TEST(ScorerOptionsTest, BadNamesAndRepeatsAreRejected) {
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a, a]\n"),
            "test.yaml:2: key 'scorer.objectives': 'a' is listed twice");
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: ['a b']\n"),
            "test.yaml:2: key 'scorer.objectives': 'a b' is not a valid objective name; use "
            "letters, digits, '_' and '-'");
}

TEST(ScorerOptionsTest, KindIsRequiredAndChecked) {
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a]\n  objective_options:\n    a: {path: x}\n"),
            "test.yaml:4: key 'scorer.objective_options.a.kind': missing; add e.g. `kind: afinn "
            "(reward_model, afinn, length, format or lm_judge)`");
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a]\n  objective_options:\n    a: {kind: judge}\n"),
            "test.yaml:4: key 'scorer.objective_options.a.kind': 'judge' is not allowed; "
            "expected one of: reward_model, afinn, length, format, lm_judge");
}

TEST(ScorerOptionsTest, KeysOfAnotherKindAreUnknown) {
  const std::string error = ErrorOf(
      "scorer:\n  objectives: [a]\n  objective_options:\n    a: {kind: afinn, target_chars: 3}\n");
  EXPECT_EQ(
      error.rfind("test.yaml:4: key 'scorer.objective_options.a.target_chars': unknown key", 0), 0u)
      << error;
}

TEST(ScorerOptionsTest, KindSpecificKeysAreRequiredAndRangeChecked) {
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a]\n  objective_options:\n    a: {kind: length}\n"),
            "test.yaml:4: key 'scorer.objective_options.a.target_chars': missing; add e.g. "
            "`target_chars: 200`");
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a]\n  objective_options:\n"
                    "    a: {kind: length, target_chars: 5, scale: 0}\n"),
            "test.yaml:4: key 'scorer.objective_options.a.scale': '0' is out of range; expected "
            "a number in (0, 1e+308]");
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a]\n  objective_options:\n    a: {kind: format}\n"),
            "test.yaml:4: key 'scorer.objective_options.a.pattern': missing; add e.g. "
            "`pattern: '(?s)Answer: .+'`");
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a]\n  objective_options:\n"
                    "    a: {kind: reward_model}\n"),
            "test.yaml:4: key 'scorer.objective_options.a.path': missing; add e.g. "
            "`path: models/rm_help`");
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a]\n  objective_options:\n"
                    "    a: {kind: afinn, reduce: max}\n"),
            "test.yaml:4: key 'scorer.objective_options.a.reduce': 'max' is not allowed; "
            "expected one of: mean, sum");
  EXPECT_EQ(ErrorOf("scorer:\n  max_items_per_request: 0\n"),
            "test.yaml:2: key 'scorer.max_items_per_request': '0' is out of range; expected an "
            "integer in [1, 1000000]");
}

TEST(ScorerOptionsTest, SeveralObjectivesNeedWeights) {
  EXPECT_EQ(ErrorOf("scorer:\n  objectives: [a, b]\n  objective_options:\n"
                    "    a: {kind: afinn}\n    b: {kind: afinn}\n"),
            "test.yaml:2: key 'scorer.composition': needs weights when there are several "
            "objectives; add e.g. composition: {weights: {a: 1.0}}");
}

TEST(ScorerOptionsTest, CompositionNamesOnlyConfiguredObjectives) {
  const std::string head =
      "scorer:\n  objectives: [a, b]\n  objective_options:\n    a: {kind: afinn}\n"
      "    b: {kind: afinn}\n";
  EXPECT_EQ(ErrorOf(head + "  composition:\n    weights: {a: 1, c: 2}\n"),
            "test.yaml:7: key 'scorer.composition.weights.c': unknown key; did you mean 'a'? "
            "(allowed here: a, b); "
            "weights name objectives listed in 'objectives'");
  EXPECT_EQ(
      ErrorOf(head + "  composition:\n    weights: {a: 1}\n    gating: {safety_objective: s}\n"),
      "test.yaml:8: key 'scorer.composition.gating.safety_objective': 's' is not allowed; "
      "expected one of: a, b");
  absl::StatusOr<ScorerOptions> ok = ParseYaml(
      head +
      "  composition:\n    weights: {b: -2}\n    gating: {safety_objective: a, threshold: "
      "0.3, prompt_flag_key: red}\n    logit_transform: true\n    offset: 1\n    scale: 0\n");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->composition.weights[0].objective, "b");
  EXPECT_EQ(ok->composition.weights[0].weight, -2.0);
  EXPECT_EQ(ok->composition.gating->threshold, 0.3);
  EXPECT_EQ(ok->composition.gating->prompt_flag_key, "red");
  EXPECT_TRUE(ok->composition.logit_transform);
  EXPECT_EQ(ok->composition.offset, 1.0);
  EXPECT_EQ(ok->composition.scale, 0.0);
}

TEST(ScorerOptionsTest, ValidateCatchesOptionsBuiltInCode) {
  ScorerOptions options;
  EXPECT_EQ(ValidateScorerOptions(options).message(), "scorer: no objectives configured");
  options.objectives.push_back({.name = "a", .kind = AfinnObjectiveKind()});
  options.objectives.push_back({.name = "a", .kind = AfinnObjectiveKind()});
  EXPECT_EQ(ValidateScorerOptions(options).message(), "scorer: objective 'a': configured twice");
  options.objectives.pop_back();
  options.composition.weights = {{"zz", 1.0}};
  EXPECT_EQ(ValidateScorerOptions(options).message(),
            "scorer: composition weights name unknown objective 'zz'; configured objectives: a");
  options.composition.weights = {{"a", 1.0}};
  options.composition.gating = SafetyGatingOptions{.safety_objective = "s"};
  EXPECT_EQ(ValidateScorerOptions(options).message(),
            "scorer: composition gating names unknown safety objective 's'; configured "
            "objectives: a");
}

}  // namespace
}  // namespace plumb::scorer
