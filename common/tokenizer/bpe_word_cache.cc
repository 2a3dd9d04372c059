#include "common/tokenizer/bpe_word_cache.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace plumb::tokenizer {

BpeWordCache::BpeWordCache(size_t capacity, size_t shards) {
  const size_t shard_count = capacity == 0 ? 0 : std::max<size_t>(1, std::min(shards, capacity));
  shard_capacity_ = shard_count == 0 ? 0 : (capacity + shard_count - 1) / shard_count;
  shard_storage_ = std::make_unique<Shard[]>(shard_count);
  shards_ = absl::Span<Shard>(shard_storage_.get(), shard_count);
}

BpeWordCache::Shard& BpeWordCache::ShardFor(absl::string_view word) const {
  return shards_[absl::HashOf(word) % shards_.size()];
}

bool BpeWordCache::Lookup(absl::string_view word, std::vector<int32_t>* ids) const {
  if (shards_.empty()) return false;
  Shard& shard = ShardFor(word);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.index.find(word);
  if (it == shard.index.end()) return false;
  shard.recency.splice(shard.recency.begin(), shard.recency, it->second);
  const std::vector<int32_t>& cached = it->second->ids;
  ids->insert(ids->end(), cached.begin(), cached.end());
  return true;
}

void BpeWordCache::Insert(absl::string_view word, absl::Span<const int32_t> ids) const {
  if (shards_.empty()) return;
  Shard& shard = ShardFor(word);
  absl::MutexLock lock(&shard.mu);
  if (shard.index.contains(word)) return;  // another thread got there first
  if (shard.recency.size() >= shard_capacity_) {
    shard.index.erase(shard.recency.back().word);
    shard.recency.pop_back();
  }
  shard.recency.push_front(Entry{std::string(word), std::vector<int32_t>(ids.begin(), ids.end())});
  shard.index.emplace(shard.recency.front().word, shard.recency.begin());
}

size_t BpeWordCache::size() const {
  size_t total = 0;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    total += shard.recency.size();
  }
  return total;
}

}  // namespace plumb::tokenizer
