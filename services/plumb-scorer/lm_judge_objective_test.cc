#include "services/plumb-scorer/lm_judge_objective.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/model/hf_checkpoint.h"
#include "services/plumb-scorer/judge_template.h"
#include "services/plumb-scorer/scorer.h"
#include "services/plumb-scorer/scorer_test_util.h"

namespace plumb::scorer {
namespace {

constexpr int64_t kBos = 256;  // the byte tokenizer's

// The scorer tests' tiny model as a causal LM (no reward head), with room for judge prompts.
model::ModelConfig JudgeConfig() {
  model::ModelConfig config = testing::TinyRewardConfig(/*outputs=*/0);
  config.max_position_embeddings = 256;
  return config;
}

model::Transformer MakeJudge(uint64_t seed) {
  torch::manual_seed(seed);
  model::Transformer model(JudgeConfig());
  model->eval();
  return model;
}

// The byte tokenizer's prompt ids of `text`: BOS, then the bytes.
std::vector<int64_t> PromptIds(const std::string& text) {
  std::vector<int64_t> ids = {kBos};
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

// log P(label | prompt) from one plain forward pass over prompt + label and a log-softmax over
// the whole vocabulary: the independent computation the objective must agree with.
double DirectLabelLogProb(model::Transformer& model, const std::string& prompt,
                          const std::string& label) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> ids = PromptIds(prompt);
  const size_t start = ids.size();
  for (unsigned char c : label) ids.push_back(c);
  const at::Tensor input = torch::tensor(ids, torch::kLong).unsqueeze(0);
  const at::Tensor logps =
      torch::log_softmax(model->Logits(model->Forward(input, torch::ones_like(input))), -1)
          .to(torch::kDouble);
  double total = 0;
  for (size_t t = start; t < ids.size(); ++t) {
    total += logps.index({0, static_cast<int64_t>(t - 1), ids[t]}).item<double>();
  }
  return total;
}

class LmJudgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshDir("lm_judge");
    model_dir_ = dir_ / "judge";
    model::Transformer judge = MakeJudge(11);
    ASSERT_TRUE(model::SaveHfModel(*judge, model_dir_).ok());
  }

  std::string WriteTemplate(const std::string& text) {
    const std::string path = (dir_ / "template.yaml").string();
    std::ofstream(path) << text;
    return path;
  }

  absl::StatusOr<std::unique_ptr<Scorer>> MakeScorer(const std::string& template_path,
                                                     const std::string& constitution = "") {
    ScorerOptions options;
    ObjectiveOptions objective;
    objective.name = "judge";
    objective.kind = LmJudgeObjectiveKind();
    objective.kind_options = LmJudgeOptions{.path = model_dir_.string(),
                                            .template_path = template_path,
                                            .constitution = constitution,
                                            .judge_tokenizer = "byte"};
    options.objectives.push_back(objective);
    options.composition.weights = {{"judge", 1.0}};
    options.max_batch_size = 5;  // several forward passes per call
    return Scorer::Create(options);
  }

  // The judge's verdict on (prompt, a, b) shown as A=a, B=b and then swapped.
  static void CompareBothOrders(Scorer& scorer, const std::vector<std::string>& pair,
                                CompareOutput* ab, CompareOutput* ba) {
    absl::StatusOr<CompareOutput> first =
        scorer.Compare({Item("x", pair[0], pair[1])}, {Item("y", pair[0], pair[2])}, "judge", "");
    absl::StatusOr<CompareOutput> second =
        scorer.Compare({Item("x", pair[0], pair[2])}, {Item("y", pair[0], pair[1])}, "judge", "");
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(second.ok()) << second.status();
    *ab = *std::move(first);
    *ba = *std::move(second);
  }

  static ScoreInput Item(const std::string& id, const std::string& prompt,
                         const std::string& response) {
    ScoreInput item;
    item.id = id;
    item.prompt_text = prompt;
    item.response_text = response;
    item.response_text_given = true;
    return item;
  }

  std::filesystem::path dir_;
  std::filesystem::path model_dir_;
};

constexpr char kTemplate[] = R"(
preamble: "Pick the answer that is {principle}"
comparison: "Q: {context}\nA: {response_a}\nB: {response_b}"
ending: "\nBest ="
labels: [" A", " B"]
few_shot:
  - {context: "2+2", response_a: "4", response_b: "5", preferred: A}
principles:
  - {name: correct, text: "correct."}
  - {name: short, text: "shorter."}
position_debias: DEBIAS
)";

std::string TemplateText(bool debias) {
  std::string text = kTemplate;
  text.replace(text.find("DEBIAS"), 6, debias ? "true" : "false");
  return text;
}

const std::vector<std::vector<std::string>> kPairs = {
    {"3+4", "7", "8"}, {"name a color", "blue", "a chair"}, {"hi", "hello there", "go"}};

TEST_F(LmJudgeTest, ThePreferenceIsTheLabelsProbabilityFromTheJudgesLogits) {
  model::Transformer judge = MakeJudge(11);
  absl::StatusOr<JudgeTemplate> t = LoadJudgeTemplate(WriteTemplate(TemplateText(false)), "");
  ASSERT_TRUE(t.ok()) << t.status();
  for (bool debias : {false, true}) {
    absl::StatusOr<std::unique_ptr<Scorer>> scorer =
        MakeScorer(WriteTemplate(TemplateText(debias)));
    ASSERT_TRUE(scorer.ok()) << scorer.status();
    std::vector<ScoreInput> firsts, seconds;
    for (const auto& pair : kPairs) {
      firsts.push_back(Item("f", pair[0], pair[1]));
      seconds.push_back(Item("s", pair[0], pair[2]));
    }
    absl::StatusOr<CompareOutput> out = (*scorer)->Compare(firsts, seconds, "judge", "short");
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->judge, "judge");
    EXPECT_EQ(out->principle, "short");
    ASSERT_EQ(out->p_first.size(), kPairs.size());
    for (size_t i = 0; i < kPairs.size(); ++i) {
      auto p_a = [&](const std::string& a, const std::string& b) {
        const std::string prompt = RenderComparison(*t, "short", kPairs[i][0], a, b);
        const double la = DirectLabelLogProb(judge, prompt, " A");
        const double lb = DirectLabelLogProb(judge, prompt, " B");
        return std::exp(la) / (std::exp(la) + std::exp(lb));
      };
      const double shown_first = p_a(kPairs[i][1], kPairs[i][2]);
      const double expected =
          debias ? 0.5 * (shown_first + 1.0 - p_a(kPairs[i][2], kPairs[i][1])) : shown_first;
      EXPECT_NEAR(out->p_first[i], expected, 1e-5) << "pair " << i << " debias " << debias;
    }
  }
}

TEST_F(LmJudgeTest, SwappingTheResponsesGivesOneMinusPForADebiasedJudge) {
  absl::StatusOr<std::unique_ptr<Scorer>> scorer = MakeScorer(WriteTemplate(TemplateText(true)));
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  for (const auto& pair : kPairs) {
    CompareOutput ab, ba;
    ASSERT_NO_FATAL_FAILURE(CompareBothOrders(**scorer, pair, &ab, &ba));
    EXPECT_EQ(ab.principle, "correct");  // the first principle is the default
    EXPECT_NEAR(ab.p_first[0] + ba.p_first[0], 1.0, 1e-6) << pair[0];
  }
}

TEST_F(LmJudgeTest, AveragingBothOrdersRemovesAPlantedPositionBias) {
  // Plant a bias towards whatever is shown as A: make the final hidden state at the label's
  // position nearly constant (a large embedding for the space every label starts with, the
  // input there), and add that direction to the row of "A", so "A" gains ~5 nats everywhere.
  model::Transformer judge = MakeJudge(11);
  absl::StatusOr<JudgeTemplate> t = LoadJudgeTemplate(WriteTemplate(TemplateText(false)), "");
  ASSERT_TRUE(t.ok());
  {
    torch::NoGradGuard no_grad;
    judge->embed_tokens()[' '].mul_(40.0);
    at::Tensor mean_hidden = torch::zeros({JudgeConfig().hidden_size});
    int count = 0;
    for (const auto& pair : kPairs) {
      for (bool swap : {false, true}) {
        std::vector<int64_t> ids = PromptIds(RenderComparison(
            *t, "correct", pair[0], swap ? pair[2] : pair[1], swap ? pair[1] : pair[2]));
        ids.push_back(' ');
        const at::Tensor input = torch::tensor(ids, torch::kLong).unsqueeze(0);
        mean_hidden += judge->Forward(input, torch::ones_like(input))[0][-1];
        ++count;
      }
    }
    mean_hidden /= count;
    judge->lm_head()['A'] += 5.0 * mean_hidden / mean_hidden.dot(mean_hidden);
  }
  for (bool debias : {false, true}) {
    absl::StatusOr<std::unique_ptr<Scorer>> scorer =
        MakeScorer(WriteTemplate(TemplateText(debias)));
    ASSERT_TRUE(scorer.ok()) << scorer.status();
    ASSERT_TRUE(testing::SwapWeights(**scorer, "judge", judge, 1, "planted").ok());
    for (const auto& pair : kPairs) {
      CompareOutput ab, ba;
      ASSERT_NO_FATAL_FAILURE(CompareBothOrders(**scorer, pair, &ab, &ba));
      if (!debias) {
        // Each response wins when shown first: the bias, not the content, decides.
        EXPECT_GT(ab.p_first[0], 0.9) << pair[0];
        EXPECT_GT(ba.p_first[0], 0.9) << pair[0];
      } else {
        EXPECT_NEAR(ab.p_first[0], 0.5, 0.05) << pair[0];
        EXPECT_NEAR(ab.p_first[0] + ba.p_first[0], 1.0, 1e-6) << pair[0];
      }
    }
  }
}

TEST_F(LmJudgeTest, ARatingIsTheExpectedLabelOverOneToTenMappedToZeroOne) {
  model::Transformer judge = MakeJudge(11);
  absl::StatusOr<JudgeTemplate> t = LoadJudgeTemplate(WriteTemplate(TemplateText(true)), "");
  ASSERT_TRUE(t.ok());
  absl::StatusOr<std::unique_ptr<Scorer>> scorer = MakeScorer(WriteTemplate(TemplateText(true)));
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  absl::StatusOr<std::vector<ScoreOutput>> scored =
      (*scorer)->Score({Item("a", "3+4", "7"), Item("b", "hi", "hello there")});
  ASSERT_TRUE(scored.ok()) << scored.status();
  const std::vector<std::vector<std::string>> items = {{"3+4", "7"}, {"hi", "hello there"}};
  for (size_t i = 0; i < items.size(); ++i) {
    // Labels " 1" .. " 10" (" 10" is three bytes): the expected rating, mapped to [0, 1].
    const std::string prompt = RenderRating(*t, "correct", items[i][0], items[i][1]);
    double total = 0, expected = 0;
    for (int k = 1; k <= 10; ++k) {
      const double p = std::exp(DirectLabelLogProb(judge, prompt, " " + std::to_string(k)));
      total += p;
      expected += p * k;
    }
    const double want = (expected / total - 1.0) / 9.0;
    ASSERT_TRUE((*scored)[i].score("judge").has_value());
    EXPECT_NEAR(*(*scored)[i].score("judge"), want, 1e-5) << i;
    EXPECT_GE(want, 0.0);
    EXPECT_LE(want, 1.0);
  }
}

TEST_F(LmJudgeTest, RefusesWhatItCannotJudgeWithAClearMessage) {
  absl::StatusOr<std::unique_ptr<Scorer>> scorer = MakeScorer(WriteTemplate(TemplateText(true)));
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  auto compare = [&](const std::string& judge, const std::string& principle,
                     const std::string& response) {
    return (*scorer)
        ->Compare({Item("x", "q", response)}, {Item("y", "q", "b")}, judge, principle)
        .status();
  };
  struct Case {
    absl::Status status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {compare("judge", "kind", "a"), "principle 'kind' is not in the judge's constitution"},
      {compare("gpt", "", "a"), "unknown judge 'gpt'; judges: composed_reward, judge"},
      {compare("judge", "", std::string(300, 'x')), "pairs[0]: the judge's prompt is"},
      {(*scorer)->Compare({}, {}, "judge", "").status(), "no pairs"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), absl::StatusCode::kInvalidArgument) << c.status;
    EXPECT_TRUE(absl::StrContains(c.status.message(), c.message)) << c.status;
  }
  EXPECT_EQ((*scorer)->JudgeNames(), (std::vector<std::string>{"composed_reward", "judge"}));
  EXPECT_TRUE(compare("judge", "", "a").ok());  // still judging

  // A constitution without principles, and a template without the sample's placeholders.
  const std::string empty_constitution = (dir_ / "constitution.yaml").string();
  std::ofstream(empty_constitution) << "principles: []\n";
  absl::StatusOr<std::unique_ptr<Scorer>> refused =
      MakeScorer(WriteTemplate(TemplateText(true)), empty_constitution);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "objective 'judge'"));
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "no principles"));
  refused = MakeScorer(WriteTemplate("comparison: \"{context}: {response_a}\"\n"));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "{response_b}"));
}

}  // namespace
}  // namespace plumb::scorer
