// A bounded, thread-safe cache from a pre-token's bytes to its BPE ids.
//
// Text repeats words heavily, so most pre-tokens are looked up instead of merged. The cache is
// split into shards, each an LRU list under its own mutex, so concurrent encoders rarely wait on
// one another; each shard holds at most capacity / shards entries.
//
// Thread safety: all methods may be called from many threads at once.
#ifndef PLUMB_COMMON_TOKENIZER_BPE_WORD_CACHE_H_
#define PLUMB_COMMON_TOKENIZER_BPE_WORD_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace plumb::tokenizer {

class BpeWordCache {
 public:
  // A capacity of 0 disables the cache (every Lookup misses, Insert does nothing).
  explicit BpeWordCache(size_t capacity, size_t shards = 16);

  // On a hit appends the cached ids to *ids, marks the word recently used and returns true.
  bool Lookup(absl::string_view word, std::vector<int32_t>* ids) const;
  // Stores ids for word, evicting the shard's least recently used word when it is full.
  void Insert(absl::string_view word, absl::Span<const int32_t> ids) const;

  size_t size() const;
  size_t capacity() const { return shard_capacity_ * shards_.size(); }

 private:
  struct Entry {
    std::string word;
    std::vector<int32_t> ids;
  };
  struct Shard {
    absl::Mutex mu;
    std::list<Entry> recency ABSL_GUARDED_BY(mu);  // most recently used first
    // Keys view Entry::word inside `recency`; list nodes never move, so the views stay valid.
    absl::flat_hash_map<absl::string_view, std::list<Entry>::iterator> index ABSL_GUARDED_BY(mu);
  };
  Shard& ShardFor(absl::string_view word) const;

  size_t shard_capacity_;
  std::unique_ptr<Shard[]> shard_storage_;
  absl::Span<Shard> shards_;
};

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_BPE_WORD_CACHE_H_
