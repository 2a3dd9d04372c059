#include "common/data/example.h"

#include <cstddef>

namespace plumb::data {

std::vector<PreferencePair> ExpandRankedToPairs(const RankedList& list) {
  std::vector<PreferencePair> pairs;
  const size_t k = list.responses.size();
  if (list.ranks.size() != k) return pairs;
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = i + 1; j < k; ++j) {
      if (list.ranks[i] == list.ranks[j]) continue;
      const bool i_better = list.ranks[i] < list.ranks[j];
      PreferencePair pair;
      pair.prompt = list.prompt;
      pair.chosen = list.responses[i_better ? i : j];
      pair.rejected = list.responses[i_better ? j : i];
      pairs.push_back(std::move(pair));
    }
  }
  return pairs;
}

}  // namespace plumb::data
