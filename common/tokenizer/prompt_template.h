// How a prompt and a response become one token sequence, and where the response starts (the
// trainers compute loss on response tokens only and mask the prompt).
//
// Layout:
//   [bos] prompt_prefix PROMPT prompt_suffix response_prefix | RESPONSE response_suffix [eos]
//   `---------------------- prompt ids --------------------'   `--------- response ids --------'
// - The prompt ids are what a sampler conditions on; the response ids are what the model is
//   trained to produce, ending markers included so it learns to stop. response_prefix is forced
//   text (e.g. "<think>\n"), so it sits on the prompt side.
// - Each part is encoded on its own and the ids are concatenated. So the prompt ids of an
//   example are exactly EncodePrompt(prompt), whatever the response; the price is that no token
//   spans a part boundary.
// - Template strings are encoded with allow_special (so "<|user|>" becomes its single special id
//   when the vocabulary has it); PROMPT and RESPONSE never are, so user text cannot inject
//   control tokens.
// Example: PromptTemplate::FromFormat("<|user|>\n{prompt}\n<|assistant|>\n", "{response}<|end|>").
//
// Thread safety: PromptFormatter is immutable; its methods may run on many threads at once.
#ifndef PLUMB_COMMON_TOKENIZER_PROMPT_TEMPLATE_H_
#define PLUMB_COMMON_TOKENIZER_PROMPT_TEMPLATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tokenizer/tokenizer.h"

namespace plumb::tokenizer {

struct PromptTemplate {
  std::string prompt_prefix;
  std::string prompt_suffix;
  std::string response_prefix;
  std::string response_suffix;
  bool add_bos = false;  // the tokenizer's bos before everything
  bool add_eos = true;   // the tokenizer's eos after the response

  // Splits format strings at their placeholders: `prompt_format` must hold "{prompt}" once,
  // `response_format` "{response}" once; text before "{response}" becomes response_prefix.
  static absl::StatusOr<PromptTemplate> FromFormat(absl::string_view prompt_format,
                                                   absl::string_view response_format,
                                                   bool add_bos = false, bool add_eos = true);
};

struct TokenizedExample {
  std::vector<int32_t> ids;   // prompt ids, then response ids
  size_t response_start = 0;  // ids[response_start:] are the response ids
};

class PromptFormatter {
 public:
  // Fails with FailedPrecondition when the template adds bos or eos and the tokenizer has none.
  // `tokenizer` must outlive the formatter.
  static absl::StatusOr<PromptFormatter> Create(const Tokenizer* tokenizer,
                                                PromptTemplate prompt_template);

  std::vector<int32_t> EncodePrompt(absl::string_view prompt) const;
  // RESPONSE response_suffix [eos].
  std::vector<int32_t> EncodeResponse(absl::string_view response) const;
  TokenizedExample EncodeExample(absl::string_view prompt, absl::string_view response) const;

  const PromptTemplate& prompt_template() const { return template_; }

 private:
  PromptFormatter(const Tokenizer* tokenizer, PromptTemplate prompt_template);

  const Tokenizer* tokenizer_;
  PromptTemplate template_;
  // The template's fixed parts, encoded once.
  std::vector<int32_t> before_prompt_;   // [bos] prompt_prefix
  std::vector<int32_t> after_prompt_;    // prompt_suffix response_prefix
  std::vector<int32_t> after_response_;  // response_suffix [eos]
};

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_PROMPT_TEMPLATE_H_
