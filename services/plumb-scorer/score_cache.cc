#include "services/plumb-scorer/score_cache.h"

#include "absl/hash/hash.h"

namespace plumb::scorer {

uint64_t ScoreCacheKey(absl::string_view objective, uint64_t generation, const ScoreInput& item) {
  return absl::HashOf(objective, generation, item.prompt_text, item.prompt_ids, item.response_text,
                      item.response_text_given, item.response_ids);
}

std::optional<double> ScoreCache::Lookup(uint64_t key) {
  if (!enabled()) return std::nullopt;
  absl::MutexLock lock(&mu_);
  const auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  recency_.splice(recency_.begin(), recency_, it->second);
  return it->second->second;
}

void ScoreCache::Insert(uint64_t key, double value) {
  if (!enabled()) return;
  absl::MutexLock lock(&mu_);
  if (const auto it = index_.find(key); it != index_.end()) {
    it->second->second = value;
    recency_.splice(recency_.begin(), recency_, it->second);
    return;
  }
  recency_.emplace_front(key, value);
  index_[key] = recency_.begin();
  while (static_cast<int64_t>(recency_.size()) > capacity_) {
    index_.erase(recency_.back().first);
    recency_.pop_back();
    ++evictions_;
  }
}

CacheStats ScoreCache::stats() const {
  absl::MutexLock lock(&mu_);
  return CacheStats{.hits = hits_,
                    .misses = misses_,
                    .evictions = evictions_,
                    .entries = static_cast<int64_t>(recency_.size()),
                    .capacity = capacity_};
}

}  // namespace plumb::scorer
