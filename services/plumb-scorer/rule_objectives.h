// The rule objective kinds:
//   length  score = -|characters - target_chars| / scale, characters = Unicode code points
//           (UTF-8 lead bytes), so 0 is best and every `scale` characters off cost 1.
//   format  score_match when ICU's RegexMatcher::matches() accepts the whole response, else
//           score_miss. A match that spends its regex work budget (a pathological
//           pattern/input pair) counts as a miss rather than failing the batch.
//
// Thread safety: the objectives are immutable after creation; Prepare and Run run on many
// threads at once.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_RULE_OBJECTIVES_H_
#define PLUMB_SERVICES_PLUMB_SCORER_RULE_OBJECTIVES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "services/plumb-scorer/objective_kind.h"

namespace plumb::scorer {

// Keys: target_chars (required), scale.
struct LengthOptions {
  int64_t target_chars = 0;
  double scale = 1.0;  // > 0: characters of distance that cost one point
};

// Keys: pattern (required, ICU regex syntax), score_match, score_miss.
struct FormatOptions {
  std::string pattern;
  double score_match = 1.0;
  double score_miss = 0.0;
};

// The kinds, category rule, options LengthOptions and FormatOptions.
std::shared_ptr<const ScoringObjectiveKind> LengthObjectiveKind();
std::shared_ptr<const ScoringObjectiveKind> FormatObjectiveKind();

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_RULE_OBJECTIVES_H_
