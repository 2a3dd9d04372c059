// JsonlDataset's handling of malformed lines under on_malformed: stop and skip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/data/data_test_util.h"
#include "common/data/jsonl_dataset.h"

namespace plumb::data {
namespace {

using ::testing::ElementsAre;
using testing::MakeTempDir;
using testing::PreferenceLine;
using testing::PromptsOf;
using testing::WriteFile;

// Lines 1..12 of a preference file: four good rows and one of each malformed kind.
const std::vector<std::string>& MixedLines() {
  static const auto* lines = new std::vector<std::string>{
      PreferenceLine(0),
      R"({"prompt": "p", )",
      "",
      PreferenceLine(1),
      R"({"prompt": "p", "chosen": "c"})",
      "[1]",
      PreferenceLine(2),
      R"({"prompt": "", "chosen": "c", "rejected": "r"})",
      R"({"prompt": "p", "chosen": "c", "rejected": "r", "margin_label": "huge"})",
      R"({"prompt": "p", "chosen": 1, "rejected": "r"})",
      R"({"prompt": "p", "chosen": "same", "rejected": "same"})",
      PreferenceLine(3),
  };
  return *lines;
}

std::string WriteLines(const std::vector<std::string>& lines) {
  const std::string path = MakeTempDir() + "/train.jsonl";
  WriteFile(path, absl::StrCat(absl::StrJoin(lines, "\n"), "\n"));
  return path;
}

DatasetOptions Options(const std::string& path, MalformedPolicy policy, double fraction = 1.0) {
  DatasetOptions options;
  options.files = {path};
  options.shuffle = false;
  options.on_malformed = policy;
  options.max_malformed_fraction = fraction;
  return options;
}

std::unique_ptr<JsonlDataset> OpenOrDie(const DatasetOptions& options) {
  absl::StatusOr<std::unique_ptr<JsonlDataset>> dataset = JsonlDataset::Open(options);
  EXPECT_TRUE(dataset.ok()) << dataset.status();
  return dataset.ok() ? std::move(dataset).value() : nullptr;
}

TEST(MalformedLinesTest, StopFailsOnTheFirstMalformedLineAndChangesNothing) {
  const std::string path = WriteLines(MixedLines());
  auto dataset = OpenOrDie(Options(path, MalformedPolicy::kStop));
  ASSERT_TRUE(dataset->NextBatch(1).ok());
  for (int attempt = 0; attempt < 2; ++attempt) {
    const absl::Status status = dataset->NextBatch(1).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), path +
                                    ":2: not valid JSON at column 17: syntax error while parsing "
                                    "object key - unexpected end "
                                    "of input; expected string literal");
    EXPECT_EQ(dataset->cursor(), (DataCursor{0, 1}));
  }
  EXPECT_EQ(dataset->stats().lines_read, 1);
  EXPECT_EQ(dataset->stats().lines_skipped, 0);
}

TEST(MalformedLinesTest, StopReportsTheFileAndLineOfEachKind) {
  const std::vector<std::pair<int, std::string>> expected = {
      {5, "field 'rejected' is missing (format preference; remap with fields.rejected)"},
      {6, "expected a JSON object, got array"},
      {8, "field 'prompt' is empty"},
      {9,
       "margin label 'huge' in field 'margin_label' is not allowed; expected one of: better, "
       "negligibly_better, significantly_better, slightly_better (configure with margins)"},
      {10, "field 'chosen' must be a string, got number 1"},
      {11, "chosen and rejected are identical"},
  };
  for (const auto& [line, reason] : expected) {
    // The good first line, blank padding to keep the line number, then the malformed line.
    std::vector<std::string> lines(static_cast<size_t>(line), "");
    lines.front() = PreferenceLine(0);
    lines.back() = MixedLines()[static_cast<size_t>(line - 1)];
    const std::string path = WriteLines(lines);
    auto dataset = OpenOrDie(Options(path, MalformedPolicy::kStop));
    EXPECT_EQ(dataset->NextBatch(2).status().message(),
              absl::StrCat(path, ":", line, ": ", reason));
  }
}

TEST(MalformedLinesTest, SkipPassesOverMalformedLinesAndCountsThemPerReason) {
  const std::string path = WriteLines(MixedLines());
  auto dataset = OpenOrDie(Options(path, MalformedPolicy::kSkip));
  absl::StatusOr<std::vector<Example>> batch = dataset->NextBatch(4);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_THAT(PromptsOf(*batch), ElementsAre("p0", "p1", "p2", "p3"));
  const DatasetStats& stats = dataset->stats();
  EXPECT_EQ(stats.lines_indexed, 11);
  EXPECT_EQ(stats.blank_lines, 1);
  EXPECT_EQ(stats.lines_read, 11);
  EXPECT_EQ(stats.examples_yielded, 4);
  EXPECT_EQ(stats.lines_skipped, 7);
  const std::map<std::string, int64_t> by_reason = {
      {"empty_field", 1},   {"identical_pair", 1},       {"invalid_json", 1}, {"missing_field", 1},
      {"not_an_object", 1}, {"unknown_margin_label", 1}, {"wrong_type", 1}};
  EXPECT_EQ(stats.skipped_by_reason, by_reason);
  EXPECT_THAT(
      stats.first_messages,
      ElementsAre(path + ":2: not valid JSON at column 17: syntax error while parsing object key - "
                         "unexpected end of input; expected string literal",
                  path + ":5: field 'rejected' is missing (format preference; remap "
                         "with fields.rejected)",
                  path + ":6: expected a JSON object, got array",
                  path + ":8: field 'prompt' is empty",
                  path + ":9: margin label 'huge' in field 'margin_label' is not "
                         "allowed; expected one of: better, negligibly_better, "
                         "significantly_better, slightly_better (configure with margins)",
                  path + ":10: field 'chosen' must be a string, got number 1",
                  path + ":11: chosen and rejected are identical"));
}

TEST(MalformedLinesTest, TooLargeAFractionOfMalformedLinesInAnEpochStops) {
  const std::string path = WriteLines(MixedLines());  // 7 of 11 lines are malformed
  auto dataset = OpenOrDie(Options(path, MalformedPolicy::kSkip, 0.5));
  const absl::Status status = dataset->NextBatch(4).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            absl::StrCat("too many malformed lines: 6 of the 11 training lines in epoch 0 are "
                         "malformed, above max_malformed_fraction 0.5 (latest: ",
                         path, ":10: field 'chosen' must be a string, got number 1)"));
  EXPECT_EQ(dataset->cursor(), (DataCursor{0, 0}));
  EXPECT_EQ(dataset->stats().lines_skipped, 0);
}

TEST(MalformedLinesTest, TheFractionIsCountedPerEpoch) {
  std::vector<std::string> lines;
  for (int i = 0; i < 10; ++i) lines.push_back(i == 2 || i == 6 ? "{" : PreferenceLine(i));
  auto dataset = OpenOrDie(Options(WriteLines(lines), MalformedPolicy::kSkip, 0.2));
  for (int epoch = 0; epoch < 3; ++epoch) {
    ASSERT_TRUE(dataset->NextBatch(8).ok()) << "epoch " << epoch;  // 2 of 10 is not above 0.2
  }
  EXPECT_EQ(dataset->stats().lines_skipped, 6);
  EXPECT_EQ(dataset->stats().skipped_by_reason.at("invalid_json"), 6);
}

TEST(MalformedLinesTest, SavedStateKeepsTheEpochsMalformedCount) {
  std::vector<std::string> lines;
  for (int i = 0; i < 10; ++i)
    lines.push_back(i == 1 || i == 4 || i == 8 ? "{" : PreferenceLine(i));
  const std::string path = WriteLines(lines);
  const DatasetOptions options = Options(path, MalformedPolicy::kSkip, 0.25);
  auto first = OpenOrDie(options);
  ASSERT_TRUE(first->NextBatch(4).ok());  // lines 1-6, two malformed
  auto resumed = OpenOrDie(options);
  ASSERT_TRUE(resumed->LoadState(first->SaveState()).ok());
  EXPECT_EQ(resumed->stats().lines_skipped, 2);
  EXPECT_EQ(resumed->NextBatch(4).status().message(), first->NextBatch(4).status().message());
  EXPECT_EQ(resumed->NextBatch(4).status().message(),
            absl::StrCat("too many malformed lines: 3 of the 10 training lines in epoch 0 are "
                         "malformed, above max_malformed_fraction 0.25 (latest: ",
                         path,
                         ":9: not valid JSON at column 2: syntax error while parsing object key - "
                         "unexpected end of input; expected string literal)"));
}

TEST(MalformedLinesTest, DataThatIsAllMalformedFailsInsteadOfLoopingForever) {
  const std::string path = WriteLines({"{", "[]", "{"});
  auto dataset = OpenOrDie(Options(path, MalformedPolicy::kSkip));
  EXPECT_EQ(
      dataset->NextBatch(1).status().message(),
      absl::StrCat(
          "all 3 training lines are malformed (latest: ", path,
          ":3: not valid JSON at column 2: syntax error while parsing object key - unexpected "
          "end of input; expected string literal)"));
}

TEST(MalformedLinesTest, ShuffledSkippingKeepsBatchesFullDeterministicAndShardable) {
  std::vector<std::string> lines;
  for (int i = 0; i < 30; ++i) lines.push_back(i % 5 == 3 ? "[]" : PreferenceLine(i));
  DatasetOptions options = Options(WriteLines(lines), MalformedPolicy::kSkip);
  options.shuffle = true;
  options.seed = 5;
  auto single = OpenOrDie(options);
  auto again = OpenOrDie(options);
  std::vector<std::unique_ptr<JsonlDataset>> ranks;
  ranks.push_back(OpenOrDie(options));
  ranks.push_back(OpenOrDie(options));
  for (int step = 0; step < 10; ++step) {  // 70 examples: almost 3 epochs of 24 good rows
    absl::StatusOr<std::vector<Example>> batch = single->NextBatch(7);
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_EQ(batch->size(), 7u);
    EXPECT_EQ(PromptsOf(*batch), PromptsOf(*again->NextBatch(7)));
    std::vector<std::string> joined = PromptsOf(*ranks[0]->NextBatch(7, 0, 2));
    const std::vector<std::string> second = PromptsOf(*ranks[1]->NextBatch(7, 1, 2));
    joined.insert(joined.end(), second.begin(), second.end());
    EXPECT_EQ(joined, PromptsOf(*batch));
  }
  EXPECT_EQ(single->stats().skipped_by_reason.at("not_an_object"), single->stats().lines_skipped);
  EXPECT_EQ(single->stats().lines_read, 70 + single->stats().lines_skipped);
}

TEST(MalformedLinesTest, EvalLinesFollowThePolicy) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/eval.jsonl", absl::StrCat(PreferenceLine(0), "\n{\n", PreferenceLine(2)));
  DatasetOptions options = Options(WriteLines({PreferenceLine(9)}), MalformedPolicy::kSkip);
  options.eval_files = {dir + "/eval.jsonl"};
  auto skipping = OpenOrDie(options);
  EXPECT_THAT(PromptsOf(*skipping->ReadEval()), ElementsAre("p0", "p2"));
  EXPECT_EQ(skipping->stats().lines_skipped, 1);
  options.on_malformed = MalformedPolicy::kStop;
  EXPECT_EQ(
      OpenOrDie(options)->ReadEval().status().message(),
      dir +
          "/eval.jsonl:2: not valid JSON at column 2: syntax error while parsing object key - "
          "unexpected end of input; expected string literal");
}

}  // namespace
}  // namespace plumb::data
