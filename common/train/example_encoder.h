// Turns text examples into token ids the way every trainer needs them: the prompt (with BOS when
// the tokenizer has one and add_bos is set) and the response (with EOS when add_eos is set),
// truncated to the model's budget. Truncation keeps the END of a long prompt (the question nearest
// the answer) and the START of a long response, as TRL and OpenRLHF do.
//
// Thread safety: const methods only; safe to share once built.
#ifndef PLUMB_COMMON_TRAIN_EXAMPLE_ENCODER_H_
#define PLUMB_COMMON_TRAIN_EXAMPLE_ENCODER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/config/config_map.h"
#include "common/tokenizer/tokenizer.h"

namespace plumb::train {

struct EncoderOptions {
  std::string tokenizer;            // LoadTokenizer's argument; empty = the model folder's
  int64_t max_length = 512;         // prompt + response tokens
  int64_t max_prompt_length = 256;  // the prompt's share when both must be cut
  bool add_bos = true;
  bool add_eos = true;
};

// Reads `tokenization:` (tokenizer, max_length, max_prompt_length, add_bos, add_eos).
absl::Status ParseEncoderOptions(config::ConfigMap& section, EncoderOptions* options);

struct EncodedSequence {
  std::vector<int64_t> prompt;    // never empty
  std::vector<int64_t> response;  // may be empty only when the response text is
  bool truncated = false;
};

class ExampleEncoder {
 public:
  ExampleEncoder(std::shared_ptr<const tokenizer::Tokenizer> tokenizer, EncoderOptions options);

  // The prompt and one response, fitted into max_length: the prompt is cut (from the left) to
  // max(max_prompt_length, max_length - |response|) first, then the response (from the right).
  EncodedSequence Encode(absl::string_view prompt, absl::string_view response) const;
  // One prompt shared by several responses (preference pairs, ranked lists): the prompt is cut
  // to fit beside the longest response, so every sequence keeps the same prompt.
  std::vector<EncodedSequence> EncodeShared(absl::string_view prompt,
                                            const std::vector<absl::string_view>& responses) const;

  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  const EncoderOptions& options() const { return options_; }

 private:
  std::vector<int64_t> PromptIds(absl::string_view prompt) const;
  std::vector<int64_t> ResponseIds(absl::string_view response) const;

  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  EncoderOptions options_;
};

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_EXAMPLE_ENCODER_H_
