// Text-level training examples read from preference-alignment datasets (tokenization happens
// later), and the position in a file each one came from.
//
// Plain value types; safe to copy and to share read-only between threads.
#ifndef PLUMB_COMMON_DATA_EXAMPLE_H_
#define PLUMB_COMMON_DATA_EXAMPLE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace plumb::data {

// One comparison: `chosen` is preferred over `rejected` as a reply to `prompt`. Completions keep
// their leading whitespace exactly as in the data (hh-rlhf replies start with a space after
// "Assistant:"). `margin` is the numeric margin field when present, else the configured value of
// `margin_label` (Llama 2 style), else absent. `preference_probability` is the soft label: the
// probability in [0, 1] that `chosen` is preferred (e.g. an AI judge's, RLAIF); absent = 1.
struct PreferencePair {
  std::string prompt;
  std::string chosen;
  std::string rejected;
  std::optional<std::string> margin_label;
  std::optional<double> margin;
  std::optional<double> preference_probability;
};

// One unpaired completion with a thumbs-up/down label (KTO).
struct UnpairedExample {
  std::string prompt;
  std::string completion;
  bool desirable = false;
};

// K responses to one prompt with ranks (1 = best; equal ranks are ties). ranks.size() ==
// responses.size() >= 2.
struct RankedList {
  std::string prompt;
  std::vector<std::string> responses;
  std::vector<int> ranks;
};

// A supervised fine-tuning example. Plain `text` rows have an empty prompt.
struct SftExample {
  std::string prompt;
  std::string response;
};

// Where an example came from: the file as named in the options, the 1-based line number (blank
// lines count) and the byte offset of the line's first byte.
struct SourcePosition {
  std::string file;
  int64_t line = 0;
  uint64_t byte_offset = 0;
};

using ExampleValue = std::variant<PreferencePair, UnpairedExample, RankedList, SftExample>;

struct Example {
  ExampleValue value;
  SourcePosition source;
};

// Every pair (better, worse) of a ranked list, InstructGPT style: responses i and j form a pair
// when their ranks differ, the lower rank being `chosen`; ties give no pair. Pairs come in the
// order of (i, j) with i < j, i outer, so K distinct ranks give K(K-1)/2 pairs. No margin or
// preference probability is set.
std::vector<PreferencePair> ExpandRankedToPairs(const RankedList& list);

}  // namespace plumb::data

#endif  // PLUMB_COMMON_DATA_EXAMPLE_H_
