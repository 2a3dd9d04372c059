#include "common/data/example.h"

#include <gtest/gtest.h>

namespace plumb::data {
namespace {

std::vector<std::pair<std::string, std::string>> ChosenRejected(
    const std::vector<PreferencePair>& pairs) {
  std::vector<std::pair<std::string, std::string>> result;
  for (const PreferencePair& pair : pairs) result.emplace_back(pair.chosen, pair.rejected);
  return result;
}

TEST(ExpandRankedToPairsTest, DistinctRanksGiveEveryPairInIndexOrder) {
  const RankedList list{"p", {"a", "b", "c", "d"}, {3, 1, 4, 2}};
  const std::vector<PreferencePair> pairs = ExpandRankedToPairs(list);
  ASSERT_EQ(pairs.size(), 6u);  // K(K-1)/2
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"b", "a"}, {"a", "c"}, {"d", "a"}, {"b", "c"}, {"b", "d"}, {"d", "c"}};
  EXPECT_EQ(ChosenRejected(pairs), expected);
  for (const PreferencePair& pair : pairs) {
    EXPECT_EQ(pair.prompt, "p");
    EXPECT_FALSE(pair.margin.has_value());
  }
}

TEST(ExpandRankedToPairsTest, TiesGiveNoPair) {
  const RankedList list{"p", {"a", "b", "c"}, {1, 1, 2}};
  const std::vector<std::pair<std::string, std::string>> expected = {{"a", "c"}, {"b", "c"}};
  EXPECT_EQ(ChosenRejected(ExpandRankedToPairs(list)), expected);
  EXPECT_TRUE(ExpandRankedToPairs(RankedList{"p", {"a", "b"}, {2, 2}}).empty());
}

TEST(ExpandRankedToPairsTest, MismatchedRanksGiveNothing) {
  EXPECT_TRUE(ExpandRankedToPairs(RankedList{"p", {"a", "b"}, {1}}).empty());
}

TEST(ExpandRankedToPairsTest, NineResponsesGiveThirtySixPairs) {
  RankedList list{"p", {}, {}};
  for (int i = 0; i < 9; ++i) {
    list.responses.push_back(std::to_string(i));
    list.ranks.push_back(9 - i);
  }
  const std::vector<PreferencePair> pairs = ExpandRankedToPairs(list);
  ASSERT_EQ(pairs.size(), 36u);
  for (const PreferencePair& pair : pairs) EXPECT_GT(pair.chosen, pair.rejected);
}

}  // namespace
}  // namespace plumb::data
