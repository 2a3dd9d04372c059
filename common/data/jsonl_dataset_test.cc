#include "common/data/jsonl_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/data/data_test_util.h"

namespace plumb::data {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using testing::PromptOf;
using testing::PromptsOf;
using testing::WriteFile;
using testing::WritePreferenceFile;

DatasetOptions Options(std::vector<std::string> files, uint64_t seed = 42, bool shuffle = true) {
  DatasetOptions options;
  options.files = std::move(files);
  options.seed = seed;
  options.shuffle = shuffle;
  return options;
}

std::unique_ptr<JsonlDataset> OpenOrDie(const DatasetOptions& options) {
  absl::StatusOr<std::unique_ptr<JsonlDataset>> dataset = JsonlDataset::Open(options);
  EXPECT_TRUE(dataset.ok()) << dataset.status();
  return dataset.ok() ? std::move(dataset).value() : nullptr;
}

// The prompts of `batches` global batches of size `batch` seen by `rank` of `world`.
std::vector<std::string> Read(JsonlDataset& dataset, int batches, int batch, int rank = 0,
                              int world = 1) {
  std::vector<std::string> prompts;
  for (int b = 0; b < batches; ++b) {
    absl::StatusOr<std::vector<Example>> examples = dataset.NextBatch(batch, rank, world);
    EXPECT_TRUE(examples.ok()) << examples.status();
    if (!examples.ok()) break;
    for (const Example& example : *examples) prompts.push_back(PromptOf(example));
  }
  return prompts;
}

std::vector<std::string> Prompts(int begin, int end) {
  std::vector<std::string> prompts;
  for (int i = begin; i < end; ++i) prompts.push_back(absl::StrCat("p", i));
  return prompts;
}

TEST(JsonlDatasetTest, ShuffledOrderIsPinnedForAFixedSeed) {
  auto dataset = OpenOrDie(Options({WritePreferenceFile(MakeTempDir(), "a.jsonl", 10)}, 42));
  // EpochPermutation(10, 42, e) for e = 0, 1; a change here changes every run's data order.
  EXPECT_THAT(Read(*dataset, 1, 10),
              ElementsAre("p2", "p8", "p9", "p7", "p1", "p4", "p6", "p0", "p5", "p3"));
  EXPECT_THAT(Read(*dataset, 1, 10),
              ElementsAre("p3", "p1", "p6", "p8", "p4", "p5", "p9", "p7", "p2", "p0"));
}

TEST(JsonlDatasetTest, WithoutShuffleFilesAreReadInOrderEveryEpoch) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/a.jsonl",
            absl::StrCat(testing::PreferenceLine(0), "\n\n", testing::PreferenceLine(1), "\r\n"));
  WriteFile(dir + "/b.jsonl", testing::PreferenceLine(2));
  auto dataset = OpenOrDie(Options({dir + "/a.jsonl", dir + "/b.jsonl"}, 42, false));
  absl::StatusOr<std::vector<Example>> batch = dataset->NextBatch(4);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_THAT(PromptsOf(*batch), ElementsAre("p0", "p1", "p2", "p0"));
  EXPECT_EQ((*batch)[1].source.file, dir + "/a.jsonl");
  EXPECT_EQ((*batch)[1].source.line, 3);
  EXPECT_EQ((*batch)[1].source.byte_offset, testing::PreferenceLine(0).size() + 2);
  EXPECT_EQ((*batch)[2].source.file, dir + "/b.jsonl");
  EXPECT_EQ((*batch)[2].source.line, 1);
  EXPECT_EQ(dataset->stats().blank_lines, 1);
  EXPECT_EQ(dataset->stats().lines_indexed, 3);
}

TEST(JsonlDatasetTest, EveryEpochCoversEachExampleOnceInAnOrderSetBySeedAndEpoch) {
  const std::string path = WritePreferenceFile(MakeTempDir(), "a.jsonl", 50);
  auto seed1 = OpenOrDie(Options({path}, 1));
  const std::vector<std::string> epoch0 = Read(*seed1, 5, 10);
  const std::vector<std::string> epoch1 = Read(*seed1, 5, 10);
  std::vector<std::string> sorted0 = epoch0, sorted1 = epoch1, all = Prompts(0, 50);
  std::sort(sorted0.begin(), sorted0.end());
  std::sort(sorted1.begin(), sorted1.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(sorted0, all);
  EXPECT_EQ(sorted1, all);
  EXPECT_NE(epoch0, epoch1);
  EXPECT_EQ(Read(*OpenOrDie(Options({path}, 1)), 5, 10), epoch0);
  EXPECT_NE(Read(*OpenOrDie(Options({path}, 2)), 5, 10), epoch0);
  EXPECT_EQ(seed1->stats().examples_yielded, 100);
  EXPECT_EQ(seed1->stats().lines_read, 100);
}

TEST(JsonlDatasetTest, ABatchThatOutrunsTheEpochContinuesInTheNextOrder) {
  const std::string path = WritePreferenceFile(MakeTempDir(), "a.jsonl", 10);
  auto dataset = OpenOrDie(Options({path}, 42));
  const std::vector<std::string> batches = Read(*dataset, 3, 4);  // 12 = 10 + 2
  EXPECT_EQ(dataset->cursor(), (DataCursor{1, 2}));
  auto reference = OpenOrDie(Options({path}, 42));
  std::vector<std::string> expected = Read(*reference, 1, 10);
  const std::vector<std::string> next = Read(*reference, 1, 2);
  expected.insert(expected.end(), next.begin(), next.end());
  EXPECT_EQ(batches, expected);
}

TEST(JsonlDatasetTest, LoadingSavedStateContinuesExactlyAsAnUninterruptedRun) {
  const std::string path = WritePreferenceFile(MakeTempDir(), "a.jsonl", 23);
  auto uninterrupted = OpenOrDie(Options({path}, 7));
  const std::vector<std::string> expected = Read(*uninterrupted, 12, 5);  // crosses 2 epochs

  auto first = OpenOrDie(Options({path}, 7));
  std::vector<std::string> resumed = Read(*first, 4, 5);  // stops inside epoch 0
  const std::string state = first->SaveState();
  EXPECT_EQ(first->cursor(), (DataCursor{0, 20}));
  first.reset();
  auto second = OpenOrDie(Options({path}, 7));
  ASSERT_TRUE(second->LoadState(state).ok());
  EXPECT_EQ(second->cursor(), (DataCursor{0, 20}));
  const std::vector<std::string> rest = Read(*second, 8, 5);
  resumed.insert(resumed.end(), rest.begin(), rest.end());
  EXPECT_EQ(resumed, expected);
  EXPECT_EQ(second->stats().examples_yielded, uninterrupted->stats().examples_yielded);
  EXPECT_EQ(second->cursor(), uninterrupted->cursor());
}

TEST(JsonlDatasetTest, RestoringACursorRepeatsTheSameExamples) {
  auto dataset = OpenOrDie(Options({WritePreferenceFile(MakeTempDir(), "a.jsonl", 9)}, 3));
  Read(*dataset, 2, 7);
  const DataCursor saved = dataset->cursor();
  EXPECT_EQ(saved, (DataCursor{1, 5}));
  const std::vector<std::string> once = Read(*dataset, 3, 4);
  ASSERT_TRUE(dataset->Restore(saved).ok());
  EXPECT_EQ(Read(*dataset, 3, 4), once);
  EXPECT_EQ(dataset->Restore(DataCursor{0, 10}).message(),
            "data cursor position 10 is past the 9 training lines");
}

TEST(JsonlDatasetTest, StateSavedForOtherDataOrAnotherSeedIsRefused) {
  const std::string path = WritePreferenceFile(MakeTempDir(), "a.jsonl", 10);
  auto dataset = OpenOrDie(Options({path}, 5));
  Read(*dataset, 1, 3);
  const std::string state = dataset->SaveState();
  const std::string fingerprint = dataset->fingerprint();

  std::string changed = testing::PreferenceLine(9);
  changed[changed.size() - 3] = 'X';  // same size, different text
  std::string contents;
  for (int i = 0; i < 9; ++i) absl::StrAppend(&contents, testing::PreferenceLine(i), "\n");
  WriteFile(path, absl::StrCat(contents, changed, "\n"));
  auto edited = OpenOrDie(Options({path}, 5));
  ASSERT_NE(edited->fingerprint(), fingerprint);
  const absl::Status status = edited->LoadState(state);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            absl::StrCat("data state was saved for different data (saved: ", fingerprint,
                         "; now: ", edited->fingerprint(),
                         "); resume with the same files and eval split, or start without the "
                         "saved state"));
  EXPECT_EQ(edited->cursor(), (DataCursor{0, 0}));

  WriteFile(path, absl::StrCat(contents, testing::PreferenceLine(9), "\n"));
  auto other_seed = OpenOrDie(Options({path}, 6));
  EXPECT_EQ(std::string(other_seed->LoadState(state).message()),
            "data state was saved with seed 5 and shuffle true but this dataset has seed 6 and "
            "shuffle true; use the saved settings to resume");
}

TEST(JsonlDatasetTest, RanksSlicesOfAGlobalBatchUnionToTheSingleProcessBatch) {
  const std::string path = WritePreferenceFile(MakeTempDir(), "a.jsonl", 13);
  constexpr int kWorld = 3;
  constexpr int kBatch = 8;  // slices of 2, 3 and 3
  auto single = OpenOrDie(Options({path}, 11));
  std::vector<std::unique_ptr<JsonlDataset>> ranks;
  for (int r = 0; r < kWorld; ++r) ranks.push_back(OpenOrDie(Options({path}, 11)));
  for (int step = 0; step < 5; ++step) {
    const std::vector<std::string> whole = Read(*single, 1, kBatch);
    std::vector<std::string> joined;
    for (int r = 0; r < kWorld; ++r) {
      const std::vector<std::string> slice = Read(*ranks[r], 1, kBatch, r, kWorld);
      EXPECT_EQ(slice.size(), r == 0 ? 2u : 3u);
      joined.insert(joined.end(), slice.begin(), slice.end());
    }
    EXPECT_EQ(joined, whole) << "step " << step;
  }
  for (int r = 0; r < kWorld; ++r) EXPECT_EQ(ranks[r]->cursor(), single->cursor());
}

TEST(JsonlDatasetTest, BadBatchArgumentsAreRefused) {
  auto dataset = OpenOrDie(Options({WritePreferenceFile(MakeTempDir(), "a.jsonl", 3)}));
  EXPECT_EQ(dataset->NextBatch(4, 2, 2).status().message(),
            "NextBatch(global_batch_size=4, rank=2, world_size=2): need global_batch_size >= 1 "
            "and 0 <= rank < world_size");
  EXPECT_FALSE(dataset->NextBatch(0).ok());
  EXPECT_FALSE(dataset->NextBatch(4, 0, 0).ok());
}

TEST(JsonlDatasetTest, EvalFractionHoldsOutADisjointDeterministicSplit) {
  const std::string path = WritePreferenceFile(MakeTempDir(), "a.jsonl", 2000);
  DatasetOptions options = Options({path}, 1);
  options.eval_fraction = 0.1;
  auto dataset = OpenOrDie(options);
  EXPECT_NEAR(dataset->eval_size(), 200, 60);
  EXPECT_EQ(dataset->train_size() + dataset->eval_size(), 2000);
  EXPECT_EQ(dataset->stats().eval_lines, dataset->eval_size());
  absl::StatusOr<std::vector<Example>> eval = dataset->ReadEval();
  ASSERT_TRUE(eval.ok()) << eval.status();
  ASSERT_EQ(static_cast<int64_t>(eval->size()), dataset->eval_size());
  for (size_t i = 1; i < eval->size(); ++i) {
    EXPECT_LT((*eval)[i - 1].source.line, (*eval)[i].source.line);  // file order
  }
  const std::vector<std::string> train = Read(*dataset, 1, static_cast<int>(dataset->train_size()));
  std::set<std::string> seen(train.begin(), train.end());
  EXPECT_EQ(seen.size(), train.size());
  for (const Example& example : *eval) EXPECT_TRUE(seen.insert(PromptOf(example)).second);
  EXPECT_EQ(seen.size(), 2000u);

  options.seed = 99;  // the split does not depend on the shuffle seed
  absl::StatusOr<std::vector<Example>> again = OpenOrDie(options)->ReadEval(5);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(PromptOf((*again)[i]), PromptOf((*eval)[i]));
}

TEST(JsonlDatasetTest, DuplicateLinesFallOnTheSameSideOfTheSplit) {
  const std::string dir = MakeTempDir();
  std::string contents;
  for (int copy = 0; copy < 2; ++copy) {
    for (int i = 0; i < 100; ++i) absl::StrAppend(&contents, testing::PreferenceLine(i), "\n");
  }
  WriteFile(dir + "/dup.jsonl", contents);
  DatasetOptions options = Options({dir + "/dup.jsonl"});
  options.eval_fraction = 0.3;
  auto dataset = OpenOrDie(options);
  const std::vector<std::string> eval = PromptsOf(*dataset->ReadEval());
  ASSERT_FALSE(eval.empty());
  EXPECT_EQ(eval.size() % 2, 0u);
  const std::vector<std::string> train = Read(*dataset, 1, static_cast<int>(dataset->train_size()));
  for (const std::string& prompt : eval) {
    EXPECT_EQ(std::count(train.begin(), train.end(), prompt), 0) << prompt;
  }
}

TEST(JsonlDatasetTest, EvalFilesAreHeldOutWhole) {
  const std::string dir = MakeTempDir();
  DatasetOptions options = Options({WritePreferenceFile(dir, "train.jsonl", 4)}, 1, false);
  options.eval_files = {WritePreferenceFile(dir, "eval.jsonl", 3)};
  auto dataset = OpenOrDie(options);
  EXPECT_EQ(dataset->train_size(), 4);
  EXPECT_EQ(dataset->eval_size(), 3);
  absl::StatusOr<std::vector<Example>> eval = dataset->ReadEval(-1);
  ASSERT_TRUE(eval.ok());
  EXPECT_THAT(PromptsOf(*eval), ElementsAre("p0", "p1", "p2"));
  EXPECT_EQ((*eval)[2].source.file, dir + "/eval.jsonl");
  EXPECT_THAT(PromptsOf(*dataset->ReadEval(0)), ElementsAre());
}

TEST(JsonlDatasetTest, MegabyteLinesStreamThroughTheDataset) {
  const std::string dir = MakeTempDir();
  std::string contents;
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&contents, "{\"text\":\"", std::string(1 << 20, 'a' + i), "\"}\n");
  }
  WriteFile(dir + "/long.jsonl", contents);
  DatasetOptions options = Options({dir + "/long.jsonl"}, 3);
  options.format = DefaultFormatSpec(FormatKind::kText);
  auto dataset = OpenOrDie(options);
  absl::StatusOr<std::vector<Example>> batch = dataset->NextBatch(4);
  ASSERT_TRUE(batch.ok()) << batch.status();
  std::set<char> firsts;
  for (const Example& example : *batch) {
    const auto& sft = std::get<SftExample>(example.value);
    EXPECT_EQ(sft.response.size(), 1u << 20);
    firsts.insert(sft.response.front());
  }
  EXPECT_EQ(firsts, (std::set<char>{'a', 'b', 'c', 'd'}));
}

TEST(JsonlDatasetTest, OpeningWithoutTrainingLinesOrFilesFails) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/blank.jsonl", "\n  \n\r\n");
  EXPECT_EQ(JsonlDataset::Open(Options({dir + "/blank.jsonl"})).status().message(),
            dir + "/blank.jsonl: no training lines (the files are empty or blank)");
  EXPECT_EQ(JsonlDataset::Open(Options({dir + "/missing.jsonl"})).status().message(),
            dir + "/missing.jsonl: cannot open data file");
  EXPECT_EQ(JsonlDataset::Open(Options({})).status().message(), "dataset has no training files");
}

}  // namespace
}  // namespace plumb::data
