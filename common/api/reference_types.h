// What a reference is asked and what it answers, in plain C++ types, shared by ReferenceCore,
// the plumb-reference adapter and every ReferenceClient (common/clients). No gRPC, no LibTorch.
#ifndef PLUMB_COMMON_API_REFERENCE_TYPES_H_
#define PLUMB_COMMON_API_REFERENCE_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace plumb::reference {

struct LogProbsItem {
  std::string id;
  std::vector<int64_t> prompt;
  std::vector<int64_t> response;
  // Instead of the ids: text, tokenized by the common rule (tokenizer/prompt_text.h).
  std::optional<std::string> prompt_text, response_text;
};

struct LogProbsJob {
  std::vector<LogProbsItem> items;
  double temperature = 1.0;  // 0 means 1
  bool sum_only = false;
  std::optional<uint64_t> expected_version;
};

struct LogProbsItemResult {
  std::vector<float> logprobs;  // empty when sum_only
  double sum = 0;
  int32_t num_tokens = 0;
  // The ids evaluated for the parts given as text (empty for parts given as ids).
  std::vector<int64_t> prompt_from_text, response_from_text;
};

struct LogProbsOutcome {
  std::vector<LogProbsItemResult> results;  // in request order
  uint64_t version = 0;
  double seconds = 0;
};

}  // namespace plumb::reference

#endif  // PLUMB_COMMON_API_REFERENCE_TYPES_H_
