// The one rule every service follows for prompts sent as text (common.proto Prompt.text): the
// tokenizer's BOS when its vocabulary has one (as Hugging Face tokenizers add it with
// add_special_tokens for Llama models), then the text's tokens exactly as given: no chat
// template, special-token strings encoded as plain text. Token-id prompts are used verbatim, and
// responses never get a BOS.
//
// Size: tokenizing costs far more memory than the text itself, so a service bounds the text's
// bytes BEFORE tokenizing (MaxPromptTextBytes): a prompt that cannot fit the context whatever its
// tokens is refused without work.
#ifndef PLUMB_COMMON_TOKENIZER_PROMPT_TEXT_H_
#define PLUMB_COMMON_TOKENIZER_PROMPT_TEXT_H_

#include <cstdint>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "common/tokenizer/tokenizer.h"

namespace plumb::tokenizer {

// Bytes of text a service tokenizes for a model of `context_tokens` positions: 32 bytes per
// position (far above what real tokenizers average, ~4), and at least 4096.
int64_t MaxPromptTextBytes(int64_t context_tokens);

// BOS (if any) + the text's ids. INVALID_ARGUMENT, naming `what` (e.g. "prompt 'p1'"), when the
// text is longer than `max_bytes`; RESOURCE_EXHAUSTED when a pre-tokenizer regex runs out of its
// work budget on this text (tokenizer.h).
absl::StatusOr<std::vector<int64_t>> EncodePromptText(const Tokenizer& tokenizer,
                                                      absl::string_view text, int64_t max_bytes,
                                                      absl::string_view what);

// The response's ids (never a BOS), with the same size bound.
absl::StatusOr<std::vector<int64_t>> EncodeResponseText(const Tokenizer& tokenizer,
                                                        absl::string_view text, int64_t max_bytes,
                                                        absl::string_view what);

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_PROMPT_TEXT_H_
