// Turns text examples into token ids the way every trainer needs them: the prompt (with BOS when
// the tokenizer has one and add_bos is set) and the response (with EOS when add_eos is set),
// fitted to the model's budget as `truncation` says:
//   left  (default) a long prompt loses its START (the question nearest the answer is kept), as
//         TRL and OpenRLHF do; a long response always loses its END;
//   right a long prompt loses its END instead;
//   error an example that does not fit is an error naming its length, nothing is cut.
// Every sequence cut is counted by reason (counts()), so a run can report what it lost.
//
// Thread safety: const methods may run on several threads (the counters are atomic).
#ifndef PLUMB_COMMON_TRAIN_EXAMPLE_ENCODER_H_
#define PLUMB_COMMON_TRAIN_EXAMPLE_ENCODER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config/config_map.h"
#include "common/tokenizer/tokenizer.h"

namespace plumb::train {

enum class Truncation { kLeft, kRight, kError };

struct EncoderOptions {
  std::string tokenizer;            // LoadTokenizer's argument; empty = the model folder's
  int64_t max_length = 512;         // prompt + response tokens
  int64_t max_prompt_length = 256;  // the prompt's share when both must be cut
  bool add_bos = true;
  bool add_eos = true;
  Truncation truncation = Truncation::kLeft;
};

// Reads `tokenization:` (tokenizer, max_length, max_prompt_length, add_bos, add_eos,
// truncation: left | right | error).
absl::Status ParseEncoderOptions(config::ConfigMap& section, EncoderOptions* options);

struct EncodedSequence {
  std::vector<int64_t> prompt;    // never empty
  std::vector<int64_t> response;  // may be empty only when the response text is
  bool truncated = false;         // prompt_cut || response_cut
  bool prompt_cut = false;
  bool response_cut = false;
};

// Sequences encoded and cut since the encoder was made (cumulative).
struct TruncationCounts {
  int64_t sequences = 0;
  int64_t prompts_cut = 0;
  int64_t responses_cut = 0;
};

class ExampleEncoder {
 public:
  ExampleEncoder(std::shared_ptr<const tokenizer::Tokenizer> tokenizer, EncoderOptions options);

  // The prompt and one response, fitted into max_length: the prompt is cut to
  // max(max_prompt_length, max_length - |response|) first, then the response (from the right).
  // INVALID_ARGUMENT under truncation: error when they do not fit.
  absl::StatusOr<EncodedSequence> Encode(absl::string_view prompt,
                                         absl::string_view response) const;
  // One prompt shared by several responses (preference pairs, ranked lists): the prompt is cut
  // to fit beside the longest response, so every sequence keeps the same prompt.
  absl::StatusOr<std::vector<EncodedSequence>> EncodeShared(
      absl::string_view prompt, const std::vector<absl::string_view>& responses) const;

  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  const EncoderOptions& options() const { return options_; }
  TruncationCounts counts() const;

 private:
  std::vector<int64_t> PromptIds(absl::string_view prompt) const;
  std::vector<int64_t> ResponseIds(absl::string_view response) const;

  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  EncoderOptions options_;
  mutable std::atomic<int64_t> sequences_{0}, prompts_cut_{0}, responses_cut_{0};
};

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_EXAMPLE_ENCODER_H_
