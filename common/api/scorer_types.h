// What a reward scorer is asked and what it answers, in plain C++ types, shared by the Scorer
// core, the plumb-scorer adapter and every ScorerClient (common/clients). No gRPC, no LibTorch.
#ifndef PLUMB_COMMON_API_SCORER_TYPES_H_
#define PLUMB_COMMON_API_SCORER_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace plumb::scorer {

// One (prompt, response) to score. Each part is text and/or token ids; ids are used verbatim
// (no BOS added), text is converted with the objective's tokenizer.
struct ScoreInput {
  std::string id;  // echoed; non-empty and unique within a request
  std::string prompt_text;
  std::vector<int32_t> prompt_ids;
  std::map<std::string, std::string> prompt_metadata;  // "unsafe" = "true" triggers gating
  std::string response_text;
  // The caller has the text: an empty response_text is the response (e.g. only an EOS token),
  // not "decode response_ids". A non-empty response_text counts as given either way.
  bool response_text_given = false;
  std::vector<int32_t> response_ids;
};

struct NamedScore {
  std::string objective;
  double value = 0.0;  // in the objective's own units (not normalised)
};

struct ScoreOutput {
  std::string id;
  std::vector<NamedScore> scores;  // in the order of the objectives scored
  std::optional<double> reward;    // absent when the request omitted a composed objective
  bool gated = false;              // safety gating decided `reward`
  std::optional<double> score(const std::string& objective) const {
    for (const NamedScore& named : scores) {
      if (named.objective == objective) return named.value;
    }
    return std::nullopt;
  }
};

}  // namespace plumb::scorer

#endif  // PLUMB_COMMON_API_SCORER_TYPES_H_
