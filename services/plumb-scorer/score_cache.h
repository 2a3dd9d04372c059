// A bounded LRU map from a 64-bit key (ScoreCacheKey) to one objective's score of one item, so
// that re-scoring the same response (e.g. a rollout scored again after a retry, or duplicate
// samples) costs no forward pass. Capacity 0 turns it off: lookups miss without counting.
//
// Thread safety: every method may be called from many threads at once (one absl::Mutex).
#ifndef PLUMB_SERVICES_PLUMB_SCORER_SCORE_CACHE_H_
#define PLUMB_SERVICES_PLUMB_SCORER_SCORE_CACHE_H_

#include <cstdint>
#include <list>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/plumb-scorer/objective.h"

namespace plumb::scorer {

// Monotonic counters for metrics, and the current size.
struct CacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  int64_t entries = 0;
  int64_t capacity = 0;
};

// Hash of (objective name, scoring-state generation, prompt text and ids, response text and
// ids). Distinct inputs collide with probability ~2^-64 per pair.
uint64_t ScoreCacheKey(absl::string_view objective, uint64_t generation, const ScoreInput& item);

class ScoreCache {
 public:
  explicit ScoreCache(int64_t capacity) : capacity_(capacity) {}

  bool enabled() const { return capacity_ > 0; }
  // Counts a hit or a miss (nothing when disabled); a hit becomes the most recently used.
  std::optional<double> Lookup(uint64_t key);
  // Inserts or refreshes; evicts the least recently used entry beyond capacity.
  void Insert(uint64_t key, double value);
  CacheStats stats() const;

 private:
  using Entry = std::pair<uint64_t, double>;

  const int64_t capacity_;
  mutable absl::Mutex mu_;
  std::list<Entry> recency_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<uint64_t, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evictions_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_SCORE_CACHE_H_
