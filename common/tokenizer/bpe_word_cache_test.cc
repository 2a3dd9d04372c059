#include "common/tokenizer/bpe_word_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;

TEST(BpeWordCacheTest, LookupAppendsWhatWasInserted) {
  BpeWordCache cache(8, 1);
  std::vector<int32_t> ids = {7};
  EXPECT_FALSE(cache.Lookup("hello", &ids));
  cache.Insert("hello", std::vector<int32_t>{1, 2});
  EXPECT_TRUE(cache.Lookup("hello", &ids));
  EXPECT_THAT(ids, ElementsAre(7, 1, 2));
}

TEST(BpeWordCacheTest, EvictsTheLeastRecentlyUsedWord) {
  BpeWordCache cache(2, 1);
  std::vector<int32_t> ids;
  cache.Insert("a", std::vector<int32_t>{1});
  cache.Insert("b", std::vector<int32_t>{2});
  ASSERT_TRUE(cache.Lookup("a", &ids));  // "b" is now the least recently used
  cache.Insert("c", std::vector<int32_t>{3});
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.Lookup("a", &ids));
  EXPECT_FALSE(cache.Lookup("b", &ids));
  EXPECT_TRUE(cache.Lookup("c", &ids));
}

TEST(BpeWordCacheTest, ZeroCapacityDisablesTheCache) {
  BpeWordCache cache(0);
  std::vector<int32_t> ids;
  cache.Insert("a", std::vector<int32_t>{1});
  EXPECT_FALSE(cache.Lookup("a", &ids));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(BpeWordCacheTest, ConcurrentUseStaysWithinCapacityAndReturnsInsertedIds) {
  BpeWordCache cache(64, 4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string word = std::to_string((i * 7 + t) % 100);
        std::vector<int32_t> ids;
        if (cache.Lookup(word, &ids)) {
          ASSERT_EQ(ids.size(), 1u);
          ASSERT_EQ(std::to_string(ids[0]), word);
        } else {
          cache.Insert(word, std::vector<int32_t>{std::stoi(word)});
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(cache.size(), cache.capacity());
  EXPECT_GT(cache.size(), 0u);
}

}  // namespace
}  // namespace plumb::tokenizer
