#include "common/tokenizer/byte_tokenizer.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace plumb::tokenizer {
namespace {

bool IsPrintableAscii(int byte) { return byte >= '!' && byte <= '~'; }

std::string ByteSpelling(int byte) {
  if (IsPrintableAscii(byte)) return std::string(1, static_cast<char>(byte));
  return absl::StrFormat("<0x%02X>", byte);
}

// The byte named by "<0xNN>" (either case of hex digit), or -1.
int ParseHexSpelling(absl::string_view token) {
  if (token.size() != 6 || !absl::StartsWith(token, "<0x") || token[5] != '>') return -1;
  int value = 0;
  for (char c : token.substr(3, 2)) {
    const int digit = (c >= '0' && c <= '9')   ? c - '0'
                      : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                      : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                               : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

ByteTokenizer::ByteTokenizer(std::vector<std::string> specials) : specials_(std::move(specials)) {
  std::vector<AddedToken> added;
  for (size_t i = 0; i < specials_.size(); ++i) {
    const auto id = static_cast<int32_t>(256 + i);
    special_ids_by_content_.emplace(specials_[i], id);
    added.push_back({.id = id, .content = specials_[i], .special = true});
  }
  matcher_ = AddedTokenMatcher(added);
}

absl::StatusOr<std::unique_ptr<ByteTokenizer>> ByteTokenizer::Create(ByteTokenizerOptions options) {
  std::vector<std::string> specials = {"<bos>", "<eos>", "<pad>"};
  for (std::string& token : options.extra_special_tokens) {
    const auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("extra special token \"", token, "\" ", why));
    };
    if (token.empty()) return bad("is empty");
    if (token.size() == 1 || ParseHexSpelling(token) >= 0) return bad("spells a byte");
    for (const std::string& existing : specials) {
      if (existing == token) return bad("is given twice (or is built in)");
    }
    specials.push_back(std::move(token));
  }
  return std::unique_ptr<ByteTokenizer>(new ByteTokenizer(std::move(specials)));
}

absl::Status ByteTokenizer::AppendEncoding(absl::string_view text, const EncodeOptions& options,
                                           std::vector<int32_t>* ids) const {
  ids->reserve(ids->size() + text.size());
  matcher_.Split(
      text, options.allow_special,
      [&](absl::string_view stretch) {
        for (char c : stretch) ids->push_back(static_cast<uint8_t>(c));
      },
      [&](int32_t id) { ids->push_back(id); });
  return absl::OkStatus();
}

absl::Status ByteTokenizer::DecodeTo(absl::Span<const int32_t> ids, const DecodeOptions& options,
                                     std::string* text) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", ids[i], " at position ", i,
                                                     " is not in the vocabulary (valid ids are 0..",
                                                     vocab_size() - 1, ")"));
    }
  }
  for (int32_t id : ids) {
    if (id < 256) {
      text->push_back(static_cast<char>(id));
    } else if (!options.skip_special) {
      text->append(specials_[id - 256]);
    }
  }
  return absl::OkStatus();
}

std::optional<int32_t> ByteTokenizer::TokenToId(absl::string_view token) const {
  if (token.size() == 1 && IsPrintableAscii(static_cast<uint8_t>(token[0]))) {
    return static_cast<uint8_t>(token[0]);
  }
  if (const int byte = ParseHexSpelling(token); byte >= 0) return byte;
  auto it = special_ids_by_content_.find(token);
  if (it == special_ids_by_content_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> ByteTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return std::nullopt;
  if (id < 256) return ByteSpelling(id);
  return specials_[id - 256];
}

std::string ByteTokenizer::description() const {
  return absl::StrCat("byte tokenizer, ", vocab_size(), " ids (256 bytes + ", specials_.size(),
                      " special)");
}

}  // namespace plumb::tokenizer
