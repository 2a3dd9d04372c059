#include "common/data/seeded_order.h"

#include <utility>

namespace plumb::data {

uint64_t Mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t SplitMix64::Next() {
  state_ += 0x9E3779B97F4A7C15ULL;
  return Mix64(state_);
}

uint64_t SplitMix64::Below(uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
  while (true) {
    const uint64_t draw = Next();
    if (draw >= threshold) return draw % bound;
  }
}

std::vector<uint32_t> EpochPermutation(uint32_t n, uint64_t seed, uint64_t epoch) {
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  SplitMix64 rng(Mix64(Mix64(seed) + epoch));
  for (uint32_t i = n; i > 1; --i) {
    const uint64_t j = rng.Below(i);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

uint64_t Fnv1a(uint64_t hash, absl::string_view bytes) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

bool InHeldOutSplit(uint64_t content_hash, double eval_fraction) {
  if (eval_fraction <= 0) return false;
  if (eval_fraction >= 1) return true;
  // The top 53 bits as a double in [0, 1).
  const double unit = static_cast<double>(Mix64(content_hash) >> 11) * 0x1.0p-53;
  return unit < eval_fraction;
}

}  // namespace plumb::data
