// The prompts of an online stage, read from its datasets (JSONL with a "prompt" string per line,
// or plain text: see DatasetFormat in coordinator.proto) and drawn round by round in a seeded
// order, so that a resumed job draws the same prompts for the same round.
//
// Thread safety: immutable after Load.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_PROMPT_SOURCE_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_PROMPT_SOURCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/api/generator_types.h"
#include "services/plumb-coordinator/job_plan.h"

namespace plumb::coordinator {

inline constexpr int64_t kMaxPromptsPerStage = 1 << 20;
inline constexpr int64_t kMaxPromptBytes = 64 << 10;

class PromptSource {
 public:
  struct Entry {
    std::string text;
    bool unsafe = false;  // the data's "unsafe": true (Prompt.metadata["unsafe"] = "true")
  };

  // Reads every source (each capped at max_examples, the prompt template applied). Errors name
  // the file and line: INVALID_ARGUMENT for a line without a "prompt" string or an oversize
  // prompt, NOT_FOUND for a missing file, RESOURCE_EXHAUSTED past the bounds above,
  // INVALID_ARGUMENT when no prompt is left.
  static absl::StatusOr<PromptSource> Load(const std::vector<DatasetSource>& sources);

  int64_t size() const { return static_cast<int64_t>(texts_.size()); }
  // The `count` prompts of round `round`: consecutive positions of a permutation of every prompt
  // seeded by `seed` (a new permutation each pass). Prompt ids are "<round_id>/p<i>".
  std::vector<generator::PromptInput> Round(uint64_t seed, int64_t round, int64_t count,
                                            const std::string& round_id) const;

 private:
  std::vector<Entry> texts_;
};

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_PROMPT_SOURCE_H_
