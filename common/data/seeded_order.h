// Portable, fully specified randomness for data order: the same (seed, epoch) gives the same
// permutation on every platform and standard library (std::shuffle and the std distributions do
// not promise that). Also the content hash that decides the held-out split.
//
// Thread safety: the functions are pure; a SplitMix64 is used by one thread.
#ifndef PLUMB_COMMON_DATA_SEEDED_ORDER_H_
#define PLUMB_COMMON_DATA_SEEDED_ORDER_H_

#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"

namespace plumb::data {

// The splitmix64 finalizer (Steele, Lea & Flood 2014): a bijection on 64-bit values.
uint64_t Mix64(uint64_t x);

// The splitmix64 generator: state += 0x9E3779B97F4A7C15, output Mix64(state).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t Next();
  // Uniform in [0, bound), bound > 0, unbiased: draws below 2^64 mod bound are rejected and the
  // rest are reduced modulo bound.
  uint64_t Below(uint64_t bound);

 private:
  uint64_t state_;
};

// The permutation of [0, n) for `epoch`: Fisher–Yates (Durstenfeld, i from n-1 down to 1 swaps
// i with Below(i + 1)) driven by SplitMix64(Mix64(Mix64(seed) + epoch)). Depends only on
// (n, seed, epoch).
std::vector<uint32_t> EpochPermutation(uint32_t n, uint64_t seed, uint64_t epoch);

// 64-bit FNV-1a, fed incrementally: h = Fnv1a(h, bytes), starting from kFnv1aBasis.
inline constexpr uint64_t kFnv1aBasis = 0xcbf29ce484222325ULL;
uint64_t Fnv1a(uint64_t hash, absl::string_view bytes);

// True when a line whose content hash is `content_hash` belongs to the held-out split of
// fraction `eval_fraction` (in [0, 1]): Mix64(hash) / 2^64 < eval_fraction. Identical lines
// always land on the same side, so duplicates cannot leak from train into eval.
bool InHeldOutSplit(uint64_t content_hash, double eval_fraction);

}  // namespace plumb::data

#endif  // PLUMB_COMMON_DATA_SEEDED_ORDER_H_
