// The kind registry: a kind defined entirely in this file (a toy `constant` objective) is read
// from YAML, validated, built and scored by the unchanged scorer, and the registry refuses
// malformed or repeated kinds.
#include "services/plumb-scorer/objective_kind.h"

#include <gtest/gtest.h>

#include <c10/util/Exception.h>

#include <cmath>
#include <functional>
#include <limits>
#include <new>

#include "services/plumb-scorer/afinn_objective.h"
#include "services/plumb-scorer/objective.h"
#include "services/plumb-scorer/scorer.h"

namespace plumb::scorer {
namespace {

// The toy kind: every response scores `value`.
struct ConstantOptions {
  double value = 0.0;
};

class ConstantObjective final : public ScoringObjective {
 public:
  ConstantObjective(const ObjectiveOptions& objective, double value)
      : ScoringObjective(objective), value_(value) {}

  absl::StatusOr<std::unique_ptr<Batch>> Prepare(
      absl::Span<const ScoreInput> /*items*/) const override {
    return std::make_unique<Batch>();
  }
  absl::StatusOr<std::vector<double>> Run(const Batch& /*batch*/,
                                          absl::Span<const size_t> positions) const override {
    return std::vector<double>(positions.size(), value_);
  }
  ObjectiveDescription Describe() const override {
    ObjectiveDescription description = CommonDescription();
    description.description = absl::StrCat("always ", value_);
    return description;
  }

 private:
  const double value_;
};

std::shared_ptr<const ScoringObjectiveKind> ConstantKind() {
  return MakeObjectiveKind<ConstantOptions>({
      .name = "constant",
      .category = ObjectiveCategory::kRule,
      .parse = [](config::ConfigMap& m, absl::string_view /*base_dir*/,
                  ConstantOptions* o) { return m.Read("value", &o->value); },
      .validate = [](const ConstantOptions& o) -> absl::Status {
        if (std::isfinite(o.value)) return absl::OkStatus();
        return absl::InvalidArgumentError("value must be finite");
      },
      .create = [](const ObjectiveOptions& objective, const ConstantOptions& o,
                   int /*max_batch_size*/) -> absl::StatusOr<std::unique_ptr<ScoringObjective>> {
        return std::make_unique<ConstantObjective>(objective, o.value);
      },
  });
}

// The builtin kinds plus the toy one, in a registry of the test's own.
ObjectiveKindRegistry KindsWithConstant() {
  ObjectiveKindRegistry kinds = BuiltinObjectiveKinds();
  EXPECT_TRUE(kinds.Add(ConstantKind()).ok());
  return kinds;
}

absl::StatusOr<ScorerOptions> ParseYaml(const std::string& yaml,
                                        const ObjectiveKindRegistry& kinds) {
  absl::StatusOr<config::ConfigMap> root = config::ConfigMap::FromString(yaml, "test.yaml");
  if (!root.ok()) return root.status();
  absl::StatusOr<std::optional<config::ConfigMap>> section = root->Child("scorer");
  if (!section.ok()) return section.status();
  return ParseScorerOptions(**section, "", kinds);
}

constexpr char kConstantAndLength[] =
    "scorer:\n"
    "  objectives: [flat, brevity]\n"
    "  objective_options:\n"
    "    flat: {kind: constant, value: 2.5}\n"
    "    brevity: {kind: length, target_chars: 0}\n"
    "  composition:\n"
    "    weights: {flat: 1.0, brevity: 1.0}\n";

TEST(ObjectiveKindTest, AKindRegisteredInATestIsParsedBuiltAndScoredByTheScorer) {
  const ObjectiveKindRegistry kinds = KindsWithConstant();
  absl::StatusOr<ScorerOptions> options = ParseYaml(kConstantAndLength, kinds);
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_NE(KindOptionsAs<ConstantOptions>(options->objectives[0]), nullptr);
  EXPECT_EQ(KindOptionsAs<ConstantOptions>(options->objectives[0])->value, 2.5);

  absl::StatusOr<std::unique_ptr<Scorer>> scorer = Scorer::Create(*options);
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  absl::StatusOr<std::vector<ScoreOutput>> scored =
      (*scorer)->Score({ScoreInput{.id = "a", .prompt_text = "Q", .response_text = "abc"}});
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ((*scored)[0].score("flat"), 2.5);
  EXPECT_EQ((*scored)[0].score("brevity"), -3.0);
  EXPECT_EQ((*scored)[0].reward, -0.5);

  const std::vector<ObjectiveDescription> described = (*scorer)->Describe();
  EXPECT_EQ(described[0].kind, "constant");
  EXPECT_EQ(described[0].category, ObjectiveCategory::kRule);
  EXPECT_EQ(described[0].description, "always 2.5");
  EXPECT_EQ((*scorer)->ModelForWeights("flat").status().message(),
            "objective 'flat' is not model-backed (kind constant) and takes no weights; only "
            "reward_model objectives do");
}

TEST(ObjectiveKindTest, TheToyKindsKeysAndChoicesAreCheckedLikeABuiltinKinds) {
  const ObjectiveKindRegistry kinds = KindsWithConstant();
  EXPECT_EQ(
      ParseYaml("scorer:\n  objectives: [a]\n  objective_options:\n"
                "    a: {kind: constant, target_chars: 3}\n",
                kinds)
          .status()
          .message()
          .rfind("test.yaml:4: key 'scorer.objective_options.a.target_chars': unknown key", 0),
      0u);
  EXPECT_EQ(
      ParseYaml("scorer:\n  objectives: [a]\n  objective_options:\n    a: {kind: judge}\n", kinds)
          .status()
          .message(),
      "test.yaml:4: key 'scorer.objective_options.a.kind': 'judge' is not allowed; "
      "expected one of: reward_model, afinn, length, format, lm_judge, constant");
  EXPECT_EQ(
      ParseYaml("scorer:\n  objectives: [a]\n  objective_options:\n    a: {value: 1}\n", kinds)
          .status()
          .message(),
      "test.yaml:4: key 'scorer.objective_options.a.kind': missing; add e.g. `kind: afinn "
      "(reward_model, afinn, length, format, lm_judge or constant)`");
}

TEST(ObjectiveKindTest, RegisteringInAnotherRegistryLeavesTheBuiltinsAlone) {
  const ObjectiveKindRegistry kinds = KindsWithConstant();
  EXPECT_NE(kinds.Find("constant"), nullptr);
  EXPECT_EQ(BuiltinObjectiveKinds().Find("constant"), nullptr);
  EXPECT_EQ(ParseYaml(kConstantAndLength, BuiltinObjectiveKinds()).status().message(),
            "test.yaml:4: key 'scorer.objective_options.flat.kind': 'constant' is not allowed; "
            "expected one of: reward_model, afinn, length, format, lm_judge");
}

TEST(ObjectiveKindTest, OptionsBuiltInCodeAreValidatedByTheirKind) {
  ScorerOptions options;
  options.objectives = {ObjectiveOptions{
      .name = "flat",
      .kind = ConstantKind(),
      .kind_options = ConstantOptions{.value = std::numeric_limits<double>::quiet_NaN()}}};
  options.composition.weights = {{"flat", 1.0}};
  EXPECT_EQ(ValidateScorerOptions(options).message(),
            "scorer: objective 'flat': value must be finite");
  // Empty kind options are the kind's defaults.
  options.objectives[0].kind_options.reset();
  EXPECT_TRUE(ValidateScorerOptions(options).ok());
  // Options of another kind are refused, not misread.
  options.objectives[0].kind_options = AfinnOptions();
  EXPECT_EQ(ValidateScorerOptions(options).message(),
            "scorer: objective 'flat': kind_options are not options of kind 'constant'");
  EXPECT_EQ(CreateObjective(options.objectives[0], 8).status().message(),
            "objective 'flat': kind_options are not options of kind 'constant'");
  options.objectives[0].kind = nullptr;
  EXPECT_EQ(ValidateScorerOptions(options).message(), "scorer: objective 'flat': no kind set");
}

TEST(ObjectiveKindTest, RegistryRefusesRepeatedAndIncompleteKinds) {
  ObjectiveKindRegistry kinds = KindsWithConstant();
  EXPECT_EQ(kinds.Add(ConstantKind()).message(), "objective kind 'constant' is registered already");
  auto incomplete = std::make_shared<ScoringObjectiveKind>();
  incomplete->name = "half";
  EXPECT_TRUE(absl::IsInvalidArgument(kinds.Add(incomplete)));
  EXPECT_EQ(kinds.Find("half"), nullptr);
  EXPECT_EQ(BuiltinObjectiveKinds().names(),
            (std::vector<std::string>{"reward_model", "afinn", "length", "format", "lm_judge"}));
}

// A kind whose Run throws what the test gives it (a model objective's LibTorch error, say).
struct ThrowingOptions {
  std::function<void()> thrower;
};

class ThrowingObjective final : public ScoringObjective {
 public:
  ThrowingObjective(const ObjectiveOptions& objective, std::function<void()> thrower)
      : ScoringObjective(objective), thrower_(std::move(thrower)) {}
  absl::StatusOr<std::unique_ptr<Batch>> Prepare(absl::Span<const ScoreInput>) const override {
    return std::make_unique<Batch>();
  }
  absl::StatusOr<std::vector<double>> Run(const Batch&,
                                          absl::Span<const size_t> positions) const override {
    thrower_();
    return std::vector<double>(positions.size(), 0.0);
  }
  ObjectiveDescription Describe() const override { return CommonDescription(); }

 private:
  const std::function<void()> thrower_;
};

// The scorer's model boundary: an objective that throws fails the request with a Status naming
// it (the code from what was thrown), and the scorer serves the next request. Before the
// boundary only the reward-model kind caught, and only c10::Error: anything else escaped Score.
TEST(ObjectiveKindTest, AnObjectiveThatThrowsFailsTheRequestNamingItAndTheScorerGoesOn) {
  auto kind = MakeObjectiveKind<ThrowingOptions>({
      .name = "throwing",
      .parse = [](config::ConfigMap&, absl::string_view,
                  ThrowingOptions*) { return absl::OkStatus(); },
      .create = [](const ObjectiveOptions& objective, const ThrowingOptions& o,
                   int) -> absl::StatusOr<std::unique_ptr<ScoringObjective>> {
        return std::make_unique<ThrowingObjective>(objective, o.thrower);
      },
  });
  int calls = 0;
  ScorerOptions options;
  options.objectives = {ObjectiveOptions{
      .name = "boom", .kind = kind, .kind_options = ThrowingOptions{.thrower = [&calls] {
                                      if (++calls == 1)
                                        TORCH_CHECK_INDEX(false, "index 300 is out of range");
                                      if (calls == 2) throw std::bad_alloc();
                                    }}}};
  options.composition.weights = {{"boom", 1.0}};
  absl::StatusOr<std::unique_ptr<Scorer>> scorer = Scorer::Create(options);
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  const std::vector<ScoreInput> items = {{.id = "a", .prompt_text = "Q", .response_text = "A"}};
  const absl::StatusOr<std::vector<ScoreOutput>> index = (*scorer)->Score(items);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kInvalidArgument) << index.status();
  EXPECT_EQ(index.status().message().rfind("objective 'boom': index 300 is out of range", 0), 0u)
      << index.status();
  const absl::StatusOr<std::vector<ScoreOutput>> memory = (*scorer)->Score(items);
  EXPECT_EQ(memory.status(), absl::ResourceExhaustedError("objective 'boom': out of memory"));
  EXPECT_TRUE((*scorer)->Score(items).ok());
}

}  // namespace
}  // namespace plumb::scorer
