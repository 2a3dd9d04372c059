// The byte tokenizer for tiny default models: one id per byte, plus special tokens.
//
// Ids 0..255 are the bytes; then "<bos>" = 256, "<eos>" = 257, "<pad>" = 258, then the extra
// special tokens of the options in order (e.g. chat markers "<|user|>"). vocab_size() is
// 259 + extras. Lossless for any bytes; specials are recognised in text only with
// EncodeOptions::allow_special.
// Token spellings: printable ASCII '!'..'~' is the character itself, every other byte "<0xNN>"
// (upper-case hex); TokenToId also accepts "<0xNN>" for printable bytes.
//
// Thread safety: immutable after Create; every method may be called from many threads at once.
#ifndef PLUMB_COMMON_TOKENIZER_BYTE_TOKENIZER_H_
#define PLUMB_COMMON_TOKENIZER_BYTE_TOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/tokenizer/added_tokens.h"
#include "common/tokenizer/tokenizer.h"

namespace plumb::tokenizer {

struct ByteTokenizerOptions {
  std::vector<std::string> extra_special_tokens;  // ids 259, 260, ...
};

class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr int32_t kBosId = 256;
  static constexpr int32_t kEosId = 257;
  static constexpr int32_t kPadId = 258;

  // Fails with InvalidArgument for an empty or repeated extra token, or one that spells a byte
  // ("A", "<0x41>") or a built-in special.
  static absl::StatusOr<std::unique_ptr<ByteTokenizer>> Create(ByteTokenizerOptions options = {});

  absl::Status AppendEncoding(absl::string_view text, const EncodeOptions& options,
                              std::vector<int32_t>* ids) const override;
  absl::Status DecodeTo(absl::Span<const int32_t> ids, const DecodeOptions& options,
                        std::string* text) const override;
  int32_t vocab_size() const override { return 256 + static_cast<int32_t>(specials_.size()); }
  std::optional<int32_t> TokenToId(absl::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;
  bool IsSpecial(int32_t id) const override { return id >= 256 && id < vocab_size(); }
  const SpecialTokenIds& special_ids() const override { return special_ids_; }
  std::string description() const override;

 private:
  explicit ByteTokenizer(std::vector<std::string> specials);

  std::vector<std::string> specials_;  // content of id 256 + i
  absl::flat_hash_map<std::string, int32_t> special_ids_by_content_;
  AddedTokenMatcher matcher_;
  SpecialTokenIds special_ids_{.bos = kBosId, .eos = kEosId, .pad = kPadId};
};

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_BYTE_TOKENIZER_H_
