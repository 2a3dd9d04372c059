#include "common/data/dataset_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace plumb::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<DatasetOptions> ParseYaml(absl::string_view yaml,
                                         absl::string_view base_dir = "/cfg") {
  absl::StatusOr<config::ConfigMap> map = config::ConfigMap::FromString(yaml, "train.yaml");
  EXPECT_TRUE(map.ok()) << map.status();
  if (!map.ok()) return map.status();
  return ParseDatasetOptions(*map, base_dir);
}

std::string ErrorOf(absl::string_view yaml) {
  absl::StatusOr<DatasetOptions> options = ParseYaml(yaml);
  EXPECT_FALSE(options.ok());
  return options.ok() ? "" : std::string(options.status().message());
}

TEST(DatasetOptionsTest, DefaultsNeedOnlyAPath) {
  absl::StatusOr<DatasetOptions> options = ParseYaml("path: data/train.jsonl\n");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(options->files, ElementsAre("/cfg/data/train.jsonl"));
  EXPECT_EQ(options->format.kind, FormatKind::kPreference);
  EXPECT_EQ(options->format.fields, DefaultFormatSpec(FormatKind::kPreference).fields);
  EXPECT_EQ(options->format.margins, DefaultMarginLabels());
  EXPECT_EQ(options->on_malformed, MalformedPolicy::kStop);
  EXPECT_EQ(options->max_malformed_fraction, 1.0);
  EXPECT_TRUE(options->shuffle);
  EXPECT_EQ(options->seed, 0u);
  EXPECT_EQ(options->eval_fraction, 0.0);
  EXPECT_TRUE(options->eval_files.empty());
}

TEST(DatasetOptionsTest, ReadsEveryKey) {
  absl::StatusOr<DatasetOptions> options = ParseYaml(
      "files: [a.jsonl, /abs/b.jsonl]\n"
      "format: stack_exchange_paired\n"
      "fields: {prompt: title, margin: score, preference_probability: judge_p}\n"
      "margin_labels: [much_better]\n"
      "margins: {much_better: 2, better: 0.667}\n"
      "on_malformed: skip\n"
      "max_malformed_fraction: 0.01\n"
      "shuffle: false\n"
      "seed: 1234\n"
      "eval_files: [held.jsonl]\n",
      "/cfg/");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(options->files, ElementsAre("/cfg/a.jsonl", "/abs/b.jsonl"));
  EXPECT_EQ(options->format.kind, FormatKind::kStackExchangePaired);
  EXPECT_EQ(options->format.fields.at("prompt"), "title");
  EXPECT_EQ(options->format.fields.at("chosen"), "response_j");
  EXPECT_EQ(options->format.fields.at("margin"), "score");
  EXPECT_EQ(options->format.fields.at("preference_probability"), "judge_p");
  const std::map<std::string, double> margins = {{"much_better", 2.0}, {"better", 0.667}};
  EXPECT_EQ(options->format.margins, margins);
  EXPECT_EQ(options->on_malformed, MalformedPolicy::kSkip);
  EXPECT_EQ(options->max_malformed_fraction, 0.01);
  EXPECT_FALSE(options->shuffle);
  EXPECT_EQ(options->seed, 1234u);
  EXPECT_THAT(options->eval_files, ElementsAre("/cfg/held.jsonl"));
}

TEST(DatasetOptionsTest, AnEmptyBaseDirKeepsRelativePaths) {
  absl::StatusOr<DatasetOptions> options =
      ParseYaml("path: train.jsonl\neval_fraction: 0.05\n", "");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(options->files, ElementsAre("train.jsonl"));
  EXPECT_EQ(options->eval_fraction, 0.05);
}

TEST(DatasetOptionsTest, AnUnknownLogicalFieldNamesTheAllowedOnes) {
  EXPECT_EQ(ErrorOf("path: a\nformat: kto\nfields: {answer: response}\n"),
            "train.yaml:3: key 'fields.answer': unknown key (allowed here: completion, label, "
            "prompt)");
}

TEST(DatasetOptionsTest, AnUnknownFormatListsTheFormats) {
  EXPECT_EQ(ErrorOf("path: a\nformat: dpo\n"),
            "train.yaml:2: key 'format': 'dpo' is not allowed; expected one of: hh_rlhf, "
            "rm_static, stack_exchange_paired, preference, kto, ranked, sft, text");
}

TEST(DatasetOptionsTest, AnUnlistedMarginLabelSaysHowToAddIt) {
  EXPECT_EQ(ErrorOf("path: a\nmargins: {better: 1, way_better: 2}\n"),
            "train.yaml:2: key 'margins.way_better': unknown key (allowed here: better, "
            "negligibly_better, significantly_better, slightly_better); to add a label, also "
            "list it in margin_labels");
}

TEST(DatasetOptionsTest, MarginsAreRefusedForFormatsWithoutPairs) {
  EXPECT_EQ(ErrorOf("path: a\nformat: sft\nmargins: {better: 1}\n"),
            "train.yaml:3: key 'margins': applies only to the pair formats (hh_rlhf, rm_static, "
            "stack_exchange_paired, preference), not to sft");
}

TEST(DatasetOptionsTest, ContradictoryOrMissingKeysAreErrors) {
  EXPECT_EQ(ErrorOf("format: sft\n"),
            "train.yaml:1: key 'files': no training data; set `path: train.jsonl` or "
            "`files: [...]`");
  EXPECT_EQ(ErrorOf("path: a\nfiles: [b]\n"),
            "train.yaml:2: key 'files': set either `path` or `files`, not both");
  EXPECT_EQ(ErrorOf("path: a\neval_fraction: 0.1\neval_files: [e]\n"),
            "train.yaml:3: key 'eval_files': set either `eval_fraction` or `eval_files`, not both");
  EXPECT_EQ(ErrorOf("path: a\nmax_malformed_fraction: 0.1\n"),
            "train.yaml:2: key 'max_malformed_fraction': only applies with `on_malformed: skip` "
            "(stop fails on the first one)");
  EXPECT_EQ(ErrorOf("path: a\neval_fraction: 1\n"),
            "train.yaml:2: key 'eval_fraction': must be below 1 so that some data is left to "
            "train on");
  EXPECT_THAT(ErrorOf("path: a\non_malformed: ignore\n"),
              HasSubstr("'ignore' is not allowed; expected one of: stop, skip"));
  EXPECT_THAT(ErrorOf("path: a\nsede: 3\n"), HasSubstr("unknown key; did you mean 'seed'?"));
  EXPECT_THAT(ErrorOf("path: a\nseed: -1\n"), HasSubstr("'-1' is out of range"));
}

}  // namespace
}  // namespace plumb::data
