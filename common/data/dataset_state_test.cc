#include "common/data/dataset_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace plumb::data {
namespace {

using ::testing::HasSubstr;

TEST(DataStateTest, RoundTripsThroughOneLineOfJson) {
  SavedDataState state;
  state.seed = 0xFFFFFFFFFFFFFFFFULL;
  state.shuffle = false;
  state.fingerprint = "files=1 bytes=2";
  state.cursor = DataCursor{3, 17};
  state.epoch_malformed = 2;
  state.lines_read = 100;
  state.examples_yielded = 96;
  state.lines_skipped = 4;
  state.skipped_by_reason = {{"invalid_json", 3}, {"missing_field", 1}};
  const std::string text = SerializeDataState(state);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  absl::StatusOr<SavedDataState> parsed = ParseDataState(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->seed, state.seed);
  EXPECT_EQ(parsed->shuffle, state.shuffle);
  EXPECT_EQ(parsed->fingerprint, state.fingerprint);
  EXPECT_EQ(parsed->cursor, state.cursor);
  EXPECT_EQ(parsed->epoch_malformed, 2);
  EXPECT_EQ(parsed->lines_read, 100);
  EXPECT_EQ(parsed->examples_yielded, 96);
  EXPECT_EQ(parsed->lines_skipped, 4);
  EXPECT_EQ(parsed->skipped_by_reason, state.skipped_by_reason);
}

TEST(DataStateTest, ForeignOrIncompleteTextIsRefused) {
  EXPECT_EQ(ParseDataState("epoch=1").status().message(),
            "data state is not a JSON object written by SaveState");
  EXPECT_THAT(std::string(ParseDataState(R"({"version": 1, "seed": 1})").status().message()),
              HasSubstr("data state is incomplete or mistyped"));
  EXPECT_EQ(ParseDataState(R"({"version": 9})").status().message(),
            "data state has version 9; expected 1");
}

TEST(DatasetStatsTest, RecordSkipCountsPerReasonAndKeepsTheFirstMessages) {
  DatasetStats stats;
  for (int i = 0; i < 12; ++i) stats.RecordSkip(i % 3 == 0 ? "a" : "b", std::to_string(i));
  EXPECT_EQ(stats.lines_skipped, 12);
  EXPECT_EQ(stats.skipped_by_reason.at("a"), 4);
  EXPECT_EQ(stats.skipped_by_reason.at("b"), 8);
  ASSERT_EQ(stats.first_messages.size(), DatasetStats::kKeptMessages);
  EXPECT_EQ(stats.first_messages.front(), "0");
  EXPECT_EQ(stats.first_messages.back(), "9");
}

}  // namespace
}  // namespace plumb::data
