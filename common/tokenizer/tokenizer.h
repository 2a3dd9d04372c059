// The tokenizer interface every Plumb model uses: text (bytes) <-> token ids.
//
// Contract of every implementation:
//  * Every byte string has an encoding, invalid UTF-8 included. Byte-level tokenizers are
//    lossless, Decode(Encode(s)) == s for any bytes s; where an implementation cannot promise
//    that (a tokenizer.json with a Unicode normalizer), its header says so.
//  * Encoding can miss the reference segmentation in one way: a tokenizer.json regex that
//    backtracks catastrophically on the text runs out of its work budget (~60 ms plus time
//    proportional to the text, per regex), and the rest of the text is encoded without that regex
//    split. TryEncode reports that as RESOURCE_EXHAUSTED; Encode/EncodeTo keep the (lossless)
//    fallback, for callers that cannot return an error.
//  * Special tokens ("<|endoftext|>", bos/eos/pad, chat markers) are recognised in text only
//    when EncodeOptions::allow_special is set. Otherwise their text is encoded like any other
//    text, so user data cannot inject control tokens. Added tokens that are not special are
//    always recognised (as Hugging Face tokenizers do).
//  * Decoding fails with InvalidArgument, naming the id and its position, for an id outside
//    [0, vocab_size()) or one that names no token (a hole in the id space).
//
// Thread safety: all methods are const and may be called from many threads at once.
#ifndef PLUMB_COMMON_TOKENIZER_TOKENIZER_H_
#define PLUMB_COMMON_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace plumb::tokenizer {

struct EncodeOptions {
  // Recognise special tokens written in the text as their single ids.
  bool allow_special = false;
};

struct DecodeOptions {
  // Leave special tokens (bos, eos, pad, ...) out of the text.
  bool skip_special = false;
};

// Ids of the tokens with a fixed role; nullopt where the vocabulary has none.
struct SpecialTokenIds {
  std::optional<int32_t> bos;
  std::optional<int32_t> eos;
  std::optional<int32_t> pad;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Appends the ids of `text` to *ids, all of them in every case. Returns RESOURCE_EXHAUSTED
  // when a regex ran out of its work budget (see above) and the ids are the fallback's.
  virtual absl::Status AppendEncoding(absl::string_view text, const EncodeOptions& options,
                                      std::vector<int32_t>* ids) const = 0;

  // AppendEncoding, keeping the fallback's ids when a regex ran out of its budget.
  void EncodeTo(absl::string_view text, const EncodeOptions& options,
                std::vector<int32_t>* ids) const;
  // AppendEncoding, failing instead of falling back; on error *ids is unchanged.
  absl::Status TryEncodeTo(absl::string_view text, const EncodeOptions& options,
                           std::vector<int32_t>* ids) const;
  // Appends the bytes of `ids` to *text. On error *text is left unchanged.
  virtual absl::Status DecodeTo(absl::Span<const int32_t> ids, const DecodeOptions& options,
                                std::string* text) const = 0;

  std::vector<int32_t> Encode(absl::string_view text, const EncodeOptions& options = {}) const;
  absl::StatusOr<std::vector<int32_t>> TryEncode(absl::string_view text,
                                                 const EncodeOptions& options = {}) const;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     const DecodeOptions& options = {}) const;

  // One more than the largest id; ids below it may still be holes (IdToToken gives nullopt).
  virtual int32_t vocab_size() const = 0;
  // The vocabulary's spelling of a token ("Ġthe" in byte-level BPE, "<|endoftext|>").
  virtual std::optional<int32_t> TokenToId(absl::string_view token) const = 0;
  virtual std::optional<std::string> IdToToken(int32_t id) const = 0;
  // Whether `id` is a special token (skipped by DecodeOptions::skip_special).
  virtual bool IsSpecial(int32_t id) const = 0;

  virtual const SpecialTokenIds& special_ids() const = 0;
  std::optional<int32_t> bos_id() const { return special_ids().bos; }
  std::optional<int32_t> eos_id() const { return special_ids().eos; }
  std::optional<int32_t> pad_id() const { return special_ids().pad; }

  // A one-line description for logs, e.g. "byte-level BPE, 50257 tokens, from /m/tokenizer.json".
  virtual std::string description() const = 0;
};

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_TOKENIZER_H_
