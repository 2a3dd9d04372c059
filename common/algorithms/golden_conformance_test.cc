// Checks plumb_algorithms against every golden file (see golden_checker.h for the rules and
// the tolerance), and checks that the checker itself rejects bad files.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/algorithms/golden_checker.h"

namespace plumb::algorithms::golden {
namespace {

using nlohmann::json;

bool AnyProblemContains(const CheckReport& report, const std::string& needle) {
  for (const std::string& problem : report.problems) {
    if (absl::StrContains(problem, needle)) return true;
  }
  return false;
}

TEST(GoldenConformanceTest, EveryGoldenFileMatchesWithinOneMillionth) {
  const std::string dir = DefaultGoldenDir();
  SCOPED_TRACE(absl::StrCat("golden dir: ", dir));
  const CheckReport report = CheckGoldenDirectory(dir);
  int cases = 0, outputs = 0, values = 0;
  double max_rel = 0.0, max_abs_zero = 0.0;
  for (const FileReport& file : report.files) {
    std::printf(
        "[golden] %-34s %3d cases %3d outputs %5d values  max rel err %.3g  "
        "max abs err at ~0 %.3g  (%s)\n",
        file.file.c_str(), file.cases, file.outputs, file.values, file.max_relative_error,
        file.max_abs_error_near_zero, file.algorithm.c_str());
    cases += file.cases;
    outputs += file.outputs;
    values += file.values;
    max_rel = std::max(max_rel, file.max_relative_error);
    max_abs_zero = std::max(max_abs_zero, file.max_abs_error_near_zero);
  }
  std::printf(
      "[golden] total: %zu files, %d cases, %d outputs, %d values; max rel err %.3g, "
      "max abs err at ~0 %.3g, %zu problems\n",
      report.files.size(), cases, outputs, values, max_rel, max_abs_zero, report.problems.size());
  for (const std::string& problem : report.problems) ADD_FAILURE() << problem;
  EXPECT_FALSE(report.files.empty());
  EXPECT_GT(outputs, 0);
}

// A minimal valid document: one KL-estimator case.
json ValidDocument() {
  return json::parse(R"json({
    "algorithm": "PPO KL estimators k1/k2/k3", "reference": "test", "dtype": "float64",
    "conventions": "test", "cases": [{"name": "c0", "seed": 0,
      "inputs": {"log_probs": [[-1.0, -2.0]], "log_probs_base": [[-1.5, -1.0]]},
      "params": {"kl_estimator": "k1", "clamp": [-10, 10]},
      "outputs": {"kl": [[0.5, -1.0]]}}]})json");
}

TEST(GoldenCheckerTest, ValidDocumentHasNoProblems) {
  const CheckReport report = CheckGoldenDocument(ValidDocument(), "valid.json");
  EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  ASSERT_EQ(report.files.size(), 1u);
  EXPECT_EQ(report.files[0].values, 2);
}

TEST(GoldenCheckerTest, UnknownAlgorithmFails) {
  json doc = ValidDocument();
  doc["algorithm"] = "Some objective nobody implemented";
  EXPECT_TRUE(AnyProblemContains(CheckGoldenDocument(doc, "x.json"), "unknown algorithm"));
}

TEST(GoldenCheckerTest, UnknownParamKeyFails) {
  json doc = ValidDocument();
  doc["cases"][0]["params"]["temperature"] = 0.7;
  EXPECT_TRUE(
      AnyProblemContains(CheckGoldenDocument(doc, "x.json"), "unknown param 'temperature'"));
}

TEST(GoldenCheckerTest, UnknownParamValueFails) {
  json doc = ValidDocument();
  doc["cases"][0]["params"]["kl_estimator"] = "k4";
  EXPECT_TRUE(AnyProblemContains(CheckGoldenDocument(doc, "x.json"), "k4"));
}

TEST(GoldenCheckerTest, UnsupportedOffSwitchValueFails) {
  json doc = json::parse(R"json({
    "algorithm": "DPO loss types sigmoid/hinge/ipo/robust (TRL DPOTrainer)", "dtype": "float64",
    "cases": [{"name": "c0", "inputs": {"chosen_logps": [-1.0], "rejected_logps": [-2.0],
      "ref_chosen_logps": [-1.0], "ref_rejected_logps": [-1.0], "chosen_len": [1],
      "rejected_len": [1]},
      "params": {"loss_type": "sigmoid", "beta": 0.1, "label_smoothing": 0.0,
        "f_divergence_type": "js_divergence", "ld_alpha": null, "use_weighting": false,
        "loss_weights": [1.0]},
      "outputs": {}}]})json");
  EXPECT_TRUE(AnyProblemContains(CheckGoldenDocument(doc, "x.json"), "f_divergence_type"));
}

TEST(GoldenCheckerTest, OutputNotProducedFails) {
  json doc = ValidDocument();
  doc["cases"][0]["outputs"]["kl_sum"] = 1.0;
  EXPECT_TRUE(AnyProblemContains(CheckGoldenDocument(doc, "x.json"), "'kl_sum' is not produced"));
}

TEST(GoldenCheckerTest, InputNotReadFails) {
  json doc = ValidDocument();
  doc["cases"][0]["inputs"]["action_mask"] = json::parse("[[1.0, 1.0]]");
  EXPECT_TRUE(AnyProblemContains(CheckGoldenDocument(doc, "x.json"), "'action_mask' is not read"));
}

TEST(GoldenCheckerTest, WrongValueFails) {
  json doc = ValidDocument();
  doc["cases"][0]["outputs"]["kl"][0][0] = 0.5 + 1e-5;
  EXPECT_TRUE(AnyProblemContains(CheckGoldenDocument(doc, "x.json"), "output 'kl'[0]"));
}

TEST(GoldenCheckerTest, ValueWithinTolerancePasses) {
  json doc = ValidDocument();
  doc["cases"][0]["outputs"]["kl"][0][0] = 0.5 * (1 + 1e-7);
  EXPECT_TRUE(CheckGoldenDocument(doc, "x.json").problems.empty());
}

TEST(GoldenCheckerTest, DirectoryWithUnknownAlgorithmFileFails) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      absl::StrCat("plumb_golden_negative_", ::testing::UnitTest::GetInstance()->random_seed());
  std::filesystem::create_directories(dir);
  json doc = ValidDocument();
  doc["algorithm"] = "Made-up objective";
  std::ofstream(dir / "bad.json") << doc.dump();
  std::ofstream(dir / "good.json") << ValidDocument().dump();
  const CheckReport report = CheckGoldenDirectory(dir.string());
  std::filesystem::remove_all(dir);
  EXPECT_EQ(report.files.size(), 2u);
  EXPECT_TRUE(AnyProblemContains(report, "bad.json: unknown algorithm 'Made-up objective'"));
  EXPECT_FALSE(AnyProblemContains(report, "good.json"));
}

TEST(GoldenCheckerTest, MissingOrEmptyDirectoryFails) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "plumb_golden_empty_dir_for_test";
  std::filesystem::create_directories(dir);
  EXPECT_TRUE(AnyProblemContains(CheckGoldenDirectory(dir.string()), "no *.json files"));
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(AnyProblemContains(CheckGoldenDirectory(dir.string()), "does not exist"));
}

}  // namespace
}  // namespace plumb::algorithms::golden
