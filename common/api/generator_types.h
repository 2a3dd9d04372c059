// What a generator is asked and what it answers, in plain C++ types: the one definition that
// GeneratorCore, the plumb-generator adapter and every GeneratorClient (common/clients) share.
// No gRPC, no LibTorch.
#ifndef PLUMB_COMMON_API_GENERATOR_TYPES_H_
#define PLUMB_COMMON_API_GENERATOR_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace plumb::generator {

struct PromptInput {
  std::string id;
  // Tokenized by tokenizer::EncodePromptText (the tokenizer's BOS, then the text as given); at
  // most MaxPromptTextBytes(context) bytes, checked before tokenizing.
  std::optional<std::string> text;
  std::vector<int64_t> token_ids;  // used verbatim when text is not set
  // The prompt's labels (e.g. "unsafe" = "true" from the data), passed on to the scorer with
  // each of its rollouts (safety gating); the generator does not read them.
  std::map<std::string, std::string> metadata;
};

struct SamplingRequest {
  std::optional<double> temperature;  // unset = 1
  int64_t top_k = 0;
  std::optional<double> top_p;  // unset = 1
  int64_t max_new_tokens = 0;   // 0 = default_max_new_tokens
  std::vector<int64_t> stop_token_ids;
  std::vector<std::string> stop_strings;
  int64_t num_samples = 0;  // 0 = 1
  uint64_t seed = 0;        // 0 = a fresh random seed
  bool return_logprobs = false;
  bool ignore_eos = false;
  int64_t min_new_tokens = 0;
};

struct GenerateJob {
  std::string request_id;
  int priority = 0;  // -10..10, higher admitted first; FIFO within a level (see priority_aging_ms)
  std::vector<PromptInput> prompts;
  SamplingRequest sampling;
  std::optional<uint64_t> min_policy_version;
};

enum class Finish { kStop, kLength, kCancelled };

struct RolloutResult {
  std::string prompt_id;
  int64_t sample_index = 0;
  std::vector<int64_t> prompt_ids;
  std::vector<int64_t> response_ids;
  std::string response_text;    // empty without a tokenizer
  bool has_text = false;        // the generator decoded the response (the text may be "")
  std::vector<float> logprobs;  // empty unless return_logprobs
  Finish finish = Finish::kLength;
  uint64_t policy_version = 0;
  double seconds = 0;  // admission to this rollout's hand-off
};

struct GeneratorLoad {
  int running_sequences = 0;
  int queued_sequences = 0;
  int active_requests = 0;
  double tokens_per_second = 0;  // over the last minute
};

}  // namespace plumb::generator

#endif  // PLUMB_COMMON_API_GENERATOR_TYPES_H_
