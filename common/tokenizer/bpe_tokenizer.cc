#include "common/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "common/tokenizer/byte_level_alphabet.h"

namespace plumb::tokenizer {
namespace {

// Longer pieces (long runs of spaces or digits, base64 blobs) are rare and would crowd out
// the words that repeat.
constexpr size_t kMaxCachedPieceBytes = 64;

absl::StatusOr<std::optional<int32_t>> ResolveRole(
    absl::string_view role, const std::optional<std::string>& name,
    const absl::flat_hash_map<std::string, int32_t>& ids_by_spelling) {
  if (!name.has_value()) return std::optional<int32_t>();
  auto it = ids_by_spelling.find(*name);
  if (it == ids_by_spelling.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(role, " token ", Echo(*name), " is neither in the vocabulary nor added"));
  }
  return std::optional<int32_t>(it->second);
}

}  // namespace

BpeTokenizer::BpeTokenizer(BpeModel model, std::unique_ptr<PreTokenizer> pre_tokenizer,
                           size_t cache_capacity)
    : model_(std::move(model)), pre_tokenizer_(std::move(pre_tokenizer)), cache_(cache_capacity) {}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Create(BpeTokenizerSpec spec) {
  ASSIGN_OR_RETURN(BpeModel model, BpeModel::Create(spec.model));
  ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> pre_tokenizer,
                   PreTokenizer::Create(spec.pre_tokenizer));
  std::unique_ptr<BpeTokenizer> tokenizer(
      new BpeTokenizer(std::move(model), std::move(pre_tokenizer), spec.cache_capacity));
  BpeTokenizer& t = *tokenizer;
  t.merge_count_ = spec.model.merges.size();
  t.source_ = spec.source;

  int32_t max_id = -1;
  for (const auto& [spelling, id] : spec.model.vocab) max_id = std::max(max_id, id);
  for (const AddedToken& token : spec.added_tokens) max_id = std::max(max_id, token.id);
  const size_t tokens = spec.model.vocab.size() + spec.added_tokens.size();
  const int64_t id_limit =
      std::min<int64_t>(kMaxTokenId, 2 * static_cast<int64_t>(tokens) + kTokenIdSlack);
  if (max_id >= id_limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token id ", max_id, " is too large for ", tokens, " tokens: ids must be below ", id_limit,
        " (at most twice the number of tokens plus ", kTokenIdSlack, ", and below ", kMaxTokenId,
        ")"));
  }
  const auto size = static_cast<size_t>(max_id + 1);
  t.kinds_.assign(size, Kind::kNone);
  t.spellings_.resize(size);
  t.bytes_.resize(size);

  for (const auto& [spelling, id] : spec.model.vocab) {
    if (id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocabulary token ", Echo(spelling), " has a negative id ", id));
    }
    if (t.kinds_[id] != Kind::kNone) {
      // Report the pair in a stable order: the map's iteration order is not.
      std::string a = t.spellings_[id];
      std::string b = spelling;
      if (b < a) std::swap(a, b);
      return absl::InvalidArgumentError(
          absl::StrCat("vocabulary tokens ", Echo(a), " and ", Echo(b), " have the same id ", id));
    }
    t.kinds_[id] = Kind::kVocab;
    t.spellings_[id] = spelling;
    // A spelling outside the byte-level alphabet decodes to itself, as in Hugging Face.
    t.bytes_[id] = ByteLevelToBytes(spelling).value_or(spelling);
    t.ids_by_spelling_.emplace(spelling, id);
  }
  for (size_t i = 0; i < spec.added_tokens.size(); ++i) {
    const AddedToken& token = spec.added_tokens[i];
    const std::string where = absl::StrCat("added token ", i, " (", Echo(token.content), ")");
    if (token.id < 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": negative id ", token.id));
    }
    if (token.content.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": empty content"));
    }
    const Kind kind = t.kinds_[token.id];
    if (kind == Kind::kAdded || kind == Kind::kSpecial ||
        (kind == Kind::kVocab && t.spellings_[token.id] != token.content)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": id ", token.id, " already belongs to ", Echo(t.spellings_[token.id])));
    }
    t.kinds_[token.id] = token.special ? Kind::kSpecial : Kind::kAdded;
    t.spellings_[token.id] = token.content;
    t.bytes_[token.id] = token.content;
    t.ids_by_spelling_.insert_or_assign(token.content, token.id);
  }
  t.added_ = AddedTokenMatcher(spec.added_tokens);

  ASSIGN_OR_RETURN(t.special_ids_.bos,
                   ResolveRole("bos", spec.special_names.bos, t.ids_by_spelling_));
  ASSIGN_OR_RETURN(t.special_ids_.eos,
                   ResolveRole("eos", spec.special_names.eos, t.ids_by_spelling_));
  ASSIGN_OR_RETURN(t.special_ids_.pad,
                   ResolveRole("pad", spec.special_names.pad, t.ids_by_spelling_));
  return tokenizer;
}

void BpeTokenizer::EncodePiece(absl::string_view piece, std::vector<int32_t>* ids) const {
  if (piece.size() == 1 || piece.size() > kMaxCachedPieceBytes) {
    model_.Encode(piece, ids);
    return;
  }
  if (cache_.Lookup(piece, ids)) return;
  const size_t before = ids->size();
  model_.Encode(piece, ids);
  cache_.Insert(piece, absl::MakeConstSpan(*ids).subspan(before));
}

absl::Status BpeTokenizer::AppendEncoding(absl::string_view text, const EncodeOptions& options,
                                          std::vector<int32_t>* ids) const {
  // One budget for the whole text: many added tokens must not buy many budgets.
  regex::RegexMatchBudget budget = pre_tokenizer_->RegexBudgetFor(text.size());
  absl::Status status;
  added_.Split(
      text, options.allow_special,
      [&](absl::string_view stretch) {
        status.Update(pre_tokenizer_->Split(
            stretch, budget, [&](absl::string_view piece) { EncodePiece(piece, ids); }));
      },
      [&](int32_t id) { ids->push_back(id); });
  return status;
}

absl::Status BpeTokenizer::DecodeTo(absl::Span<const int32_t> ids, const DecodeOptions& options,
                                    std::string* text) const {
  size_t length = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= vocab_size() || kinds_[id] == Kind::kNone) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", id, " at position ", i, " is not in the vocabulary (",
          id < 0 || id >= vocab_size() ? absl::StrCat("valid ids are 0..", vocab_size() - 1)
                                       : "a hole in the id space",
          ")"));
    }
    length += bytes_[id].size();
  }
  text->reserve(text->size() + length);
  for (int32_t id : ids) {
    if (options.skip_special && kinds_[id] == Kind::kSpecial) continue;
    text->append(bytes_[id]);
  }
  return absl::OkStatus();
}

std::optional<int32_t> BpeTokenizer::TokenToId(absl::string_view token) const {
  auto it = ids_by_spelling_.find(token);
  if (it == ids_by_spelling_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> BpeTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= vocab_size() || kinds_[id] == Kind::kNone) return std::nullopt;
  return spellings_[id];
}

bool BpeTokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && kinds_[id] == Kind::kSpecial;
}

std::string BpeTokenizer::description() const {
  return absl::StrCat("byte-level BPE, ", vocab_size(), " ids, ", merge_count_, " merges",
                      source_.empty() ? "" : ", from ", source_);
}

}  // namespace plumb::tokenizer
