#include "services/plumb-scorer/score_cache.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace plumb::scorer {
namespace {

TEST(ScoreCacheTest, CountsHitsAndMisses) {
  ScoreCache cache(4);
  EXPECT_EQ(cache.Lookup(1), std::nullopt);
  cache.Insert(1, 0.5);
  EXPECT_EQ(cache.Lookup(1), 0.5);
  EXPECT_EQ(cache.Lookup(1), 0.5);
  const CacheStats stats = cache.stats();
  EXPECT_EQ(stats.hits, 2u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.entries, 1);
  EXPECT_EQ(stats.capacity, 4);
}

TEST(ScoreCacheTest, EvictsTheLeastRecentlyUsedEntry) {
  ScoreCache cache(2);
  cache.Insert(1, 1.0);
  cache.Insert(2, 2.0);
  EXPECT_EQ(cache.Lookup(1), 1.0);  // 2 is now the least recently used
  cache.Insert(3, 3.0);
  EXPECT_EQ(cache.Lookup(2), std::nullopt);
  EXPECT_EQ(cache.Lookup(1), 1.0);
  EXPECT_EQ(cache.Lookup(3), 3.0);
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(cache.stats().entries, 2);
}

TEST(ScoreCacheTest, InsertingAnExistingKeyRefreshesItsValueAndRecency) {
  ScoreCache cache(2);
  cache.Insert(1, 1.0);
  cache.Insert(2, 2.0);
  cache.Insert(1, 1.5);
  cache.Insert(3, 3.0);  // evicts 2
  EXPECT_EQ(cache.Lookup(1), 1.5);
  EXPECT_EQ(cache.Lookup(2), std::nullopt);
}

TEST(ScoreCacheTest, CapacityZeroStoresAndCountsNothing) {
  ScoreCache cache(0);
  EXPECT_FALSE(cache.enabled());
  cache.Insert(1, 1.0);
  EXPECT_EQ(cache.Lookup(1), std::nullopt);
  const CacheStats stats = cache.stats();
  EXPECT_EQ(stats.hits + stats.misses + stats.evictions, 0u);
  EXPECT_EQ(stats.entries, 0);
}

TEST(ScoreCacheTest, StaysConsistentUnderConcurrentUse) {
  ScoreCache cache(64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (uint64_t k = 0; k < 1000; ++k) {
        const uint64_t key = (k * 7 + t) % 200;
        if (!cache.Lookup(key).has_value()) cache.Insert(key, static_cast<double>(key));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const CacheStats stats = cache.stats();
  EXPECT_EQ(stats.hits + stats.misses, 4000u);
  EXPECT_LE(stats.entries, 64);
}

TEST(ScoreCacheKeyTest, DependsOnObjectiveGenerationAndEveryPartOfTheItem) {
  const ScoreInput item{.id = "a", .prompt_text = "p", .response_text = "r"};
  const uint64_t base = ScoreCacheKey("o", 0, item);
  EXPECT_EQ(ScoreCacheKey("o", 0, item), base);
  // The id and metadata do not change a score.
  const ScoreInput relabeled{
      .id = "b", .prompt_text = "p", .prompt_metadata = {{"unsafe", "true"}}, .response_text = "r"};
  EXPECT_EQ(ScoreCacheKey("o", 0, relabeled), base);
  EXPECT_NE(ScoreCacheKey("o2", 0, item), base);
  EXPECT_NE(ScoreCacheKey("o", 1, item), base);
  ScoreInput moved{.id = "a", .prompt_text = "pr", .response_text = ""};
  EXPECT_NE(ScoreCacheKey("o", 0, moved), base);
  ScoreInput ids{.id = "a", .prompt_text = "p", .response_text = "r", .response_ids = {1}};
  EXPECT_NE(ScoreCacheKey("o", 0, ids), base);
}

}  // namespace
}  // namespace plumb::scorer
