// A byte-level BPE tokenizer (the GPT-2 scheme, also used by Llama 3 and Qwen2).
//
// Encoding: added tokens are cut out first (special ones only with allow_special); each stretch
// between them is pre-tokenized (pre_tokenizer.h), and each piece is spelt as bytes and merged
// by rank (bpe_model.h). Pieces are cached per word (bpe_word_cache.h).
//
// Lossless: every byte has a token, and invalid UTF-8 bypasses the regex stage, so
// Decode(Encode(s)) == s for any bytes s - unless the spec asks for a Unicode normalization,
// a prefix space or a kRemoved split, which change the text on purpose (Decode then returns the
// changed text, as Hugging Face's tokenizers do).
//
// Files: hf_tokenizer_json.h reads a Hugging Face tokenizer.json, gpt2_vocab_files.h reads
// GPT-2's encoder.json + vocab.bpe; both produce a BpeTokenizerSpec.
//
// Thread safety: immutable after Create except for the internally locked word cache; every
// method may be called from many threads at once.
#ifndef PLUMB_COMMON_TOKENIZER_BPE_TOKENIZER_H_
#define PLUMB_COMMON_TOKENIZER_BPE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/tokenizer/added_tokens.h"
#include "common/tokenizer/bpe_model.h"
#include "common/tokenizer/bpe_word_cache.h"
#include "common/tokenizer/pre_tokenizer.h"
#include "common/tokenizer/special_token_names.h"
#include "common/tokenizer/tokenizer.h"

namespace plumb::tokenizer {

// Ids index dense tables, so the id space may have holes but must be mostly dense: every id is
// below 2 * (vocabulary + added tokens) + kTokenIdSlack, and below kMaxTokenId. Without this, one
// token with id 16,777,215 allocated 1.2 GB.
inline constexpr int32_t kMaxTokenId = 1 << 24;
inline constexpr int32_t kTokenIdSlack = 1024;

struct BpeTokenizerSpec {
  BpeModelSpec model;
  // Ids may repeat a vocabulary id only for the same spelling (GPT-2's "<|endoftext|>").
  std::vector<AddedToken> added_tokens;
  PreTokenizerOptions pre_tokenizer;
  // Each name must be a vocabulary token or an added token.
  SpecialTokenNames special_names;
  size_t cache_capacity = 1 << 16;  // words; 0 disables the cache
  std::string source;               // where the spec came from, for description() and errors
};

class BpeTokenizer final : public Tokenizer {
 public:
  // Fails with InvalidArgument on an inconsistent spec: negative, repeated or too sparse ids,
  // merges outside the vocabulary, a missing single-byte token, an unknown special token name, a
  // bad regex.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> Create(BpeTokenizerSpec spec);

  absl::Status AppendEncoding(absl::string_view text, const EncodeOptions& options,
                              std::vector<int32_t>* ids) const override;
  absl::Status DecodeTo(absl::Span<const int32_t> ids, const DecodeOptions& options,
                        std::string* text) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(kinds_.size()); }
  std::optional<int32_t> TokenToId(absl::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;
  bool IsSpecial(int32_t id) const override;
  const SpecialTokenIds& special_ids() const override { return special_ids_; }
  std::string description() const override;

  const BpeWordCache& word_cache() const { return cache_; }

 private:
  enum class Kind : uint8_t { kNone, kVocab, kAdded, kSpecial };

  BpeTokenizer(BpeModel model, std::unique_ptr<PreTokenizer> pre_tokenizer, size_t cache_capacity);
  void EncodePiece(absl::string_view piece, std::vector<int32_t>* ids) const;

  BpeModel model_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  AddedTokenMatcher added_;
  BpeWordCache cache_;
  std::vector<Kind> kinds_;             // by id
  std::vector<std::string> spellings_;  // by id: the vocabulary spelling or added content
  std::vector<std::string> bytes_;      // by id: what Decode emits
  absl::flat_hash_map<std::string, int32_t> ids_by_spelling_;
  SpecialTokenIds special_ids_;
  std::string source_;
  size_t merge_count_ = 0;
};

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_BPE_TOKENIZER_H_
