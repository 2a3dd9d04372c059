#include "common/tokenizer/pre_tokenizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/stringpiece.h>
#include <unicode/unistr.h>
#include <unicode/utypes.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/echo.h"
#include "common/tokenizer/utf8_runs.h"

namespace plumb::tokenizer {

struct PreTokenizer::Compiled {
  std::vector<std::unique_ptr<icu::RegexPattern>> patterns;  // one per RegexSplit
  const icu::Normalizer2* normalizer = nullptr;              // owned by ICU; thread-safe
};

namespace {

// A byte range [begin, end) of a UTF-8 run, and whether it is a delimiter.
struct Part {
  size_t begin;
  size_t end;
  bool delimiter;
};

struct Span {
  size_t begin;
  size_t end;
};

absl::StatusOr<const icu::Normalizer2*> GetNormalizer(UnicodeNormalization form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = nullptr;
  switch (form) {
    case UnicodeNormalization::kNone:
      return nullptr;
    case UnicodeNormalization::kNfc:
      normalizer = icu::Normalizer2::getNFCInstance(status);
      break;
    case UnicodeNormalization::kNfd:
      normalizer = icu::Normalizer2::getNFDInstance(status);
      break;
    case UnicodeNormalization::kNfkc:
      normalizer = icu::Normalizer2::getNFKCInstance(status);
      break;
    case UnicodeNormalization::kNfkd:
      normalizer = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  if (U_FAILURE(status) || normalizer == nullptr) {
    return absl::InternalError(
        absl::StrCat("ICU cannot load the Unicode normalizer: ", u_errorName(status)));
  }
  return normalizer;
}

// Walks a UTF-8 string and its UTF-16 copy together, turning UTF-16 offsets (ICU's) into byte
// offsets. Offsets must be asked for in non-decreasing order.
class Utf16ToUtf8Offsets {
 public:
  explicit Utf16ToUtf8Offsets(absl::string_view utf8) : utf8_(utf8) {}
  size_t ByteOffset(int32_t utf16_offset) {
    while (utf16_ < utf16_offset && byte_ < utf8_.size()) {
      const auto lead = static_cast<uint8_t>(utf8_[byte_]);
      const int length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
      byte_ += length;
      utf16_ += length == 4 ? 2 : 1;  // four-byte sequences are surrogate pairs in UTF-16
    }
    return byte_;
  }

 private:
  absl::string_view utf8_;
  size_t byte_ = 0;
  int32_t utf16_ = 0;
};

// Cuts `piece` (well-formed UTF-8) into delimiter and gap parts, by `matcher`'s pattern.
// Returns ICU's status: U_REGEX_STOPPED_BY_CALLER when the match budget ran out.
UErrorCode FindParts(absl::string_view piece, icu::RegexMatcher& matcher, bool invert,
                     std::vector<Part>* parts) {
  parts->clear();
  const icu::UnicodeString utf16 =
      icu::UnicodeString::fromUTF8(icu::StringPiece(piece.data(), piece.size()));
  matcher.reset(utf16);
  Utf16ToUtf8Offsets offsets(piece);
  UErrorCode status = U_ZERO_ERROR;
  size_t previous_end = 0;
  while (matcher.find(status) && U_SUCCESS(status)) {
    const size_t begin = offsets.ByteOffset(matcher.start(status));
    const size_t end = offsets.ByteOffset(matcher.end(status));
    if (U_FAILURE(status)) break;
    if (begin == end) continue;  // empty matches cut nothing
    if (begin > previous_end) parts->push_back({previous_end, begin, invert});
    parts->push_back({begin, end, !invert});
    previous_end = end;
  }
  // On an ICU failure (stack overflow on a pathological input, the budget spent) the rest
  // stays one piece, so no text is lost.
  if (previous_end < piece.size()) parts->push_back({previous_end, piece.size(), invert});
  return status;
}

// Applies `behavior` to the parts of a piece that starts at byte `base`, appending the pieces.
void ApplyBehavior(const std::vector<Part>& parts, SplitBehavior behavior, size_t base,
                   std::vector<Span>* out) {
  const size_t first_out = out->size();
  const auto push = [&](const Part& part) { out->push_back({base + part.begin, base + part.end}); };
  bool previous_delimiter = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Part& part : parts) push(part);
      break;
    case SplitBehavior::kRemoved:
      for (const Part& part : parts) {
        if (!part.delimiter) push(part);
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Part& part : parts) {
        if (part.delimiter && !previous_delimiter && out->size() > first_out) {
          out->back().end = base + part.end;
        } else {
          push(part);
        }
        previous_delimiter = part.delimiter;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->delimiter && !previous_delimiter && out->size() > first_out) {
          out->back().begin = base + it->begin;
        } else {
          push(*it);
        }
        previous_delimiter = it->delimiter;
      }
      std::reverse(out->begin() + static_cast<std::ptrdiff_t>(first_out), out->end());
      break;
    case SplitBehavior::kContiguous:
      for (size_t i = 0; i < parts.size(); ++i) {
        if (i > 0 && parts[i].delimiter == previous_delimiter) {
          out->back().end = base + parts[i].end;
        } else {
          push(parts[i]);
        }
        previous_delimiter = parts[i].delimiter;
      }
      break;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(PreTokenizerOptions options) {
  auto compiled = std::make_unique<Compiled>();
  for (const RegexSplit& split : options.splits) {
    if (split.pattern.size() > kMaxRegexPatternBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "regex ", Echo(split.pattern), " is longer than ", kMaxRegexPatternBytes, " bytes"));
    }
    UErrorCode status = U_ZERO_ERROR;
    UParseError parse_error{};
    std::unique_ptr<icu::RegexPattern> pattern(icu::RegexPattern::compile(
        icu::UnicodeString::fromUTF8(icu::StringPiece(split.pattern.data(), split.pattern.size())),
        split.literal ? UREGEX_LITERAL : 0, parse_error, status));
    if (U_FAILURE(status) || pattern == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "regex ", Echo(split.pattern), " does not compile with ICU: ", u_errorName(status),
          " at offset ", parse_error.offset));
    }
    compiled->patterns.push_back(std::move(pattern));
  }
  auto normalizer = GetNormalizer(options.normalization);
  if (!normalizer.ok()) return normalizer.status();
  compiled->normalizer = *normalizer;
  return std::unique_ptr<PreTokenizer>(new PreTokenizer(std::move(options), std::move(compiled)));
}

PreTokenizer::PreTokenizer(PreTokenizerOptions options, std::unique_ptr<Compiled> compiled)
    : options_(std::move(options)), compiled_(std::move(compiled)) {}

PreTokenizer::~PreTokenizer() = default;

regex::RegexMatchBudget PreTokenizer::RegexBudgetFor(size_t bytes) const {
  return regex::RegexMatchBudget::ForText(bytes, compiled_->patterns.size());
}

absl::Status PreTokenizer::Split(absl::string_view text,
                                 absl::FunctionRef<void(absl::string_view)> on_piece) const {
  regex::RegexMatchBudget budget = RegexBudgetFor(text.size());
  return Split(text, budget, on_piece);
}

absl::Status PreTokenizer::Split(absl::string_view text, regex::RegexMatchBudget& budget,
                                 absl::FunctionRef<void(absl::string_view)> on_piece) const {
  std::string prefixed;
  if (options_.add_prefix_space && !absl::StartsWith(text, " ")) {
    prefixed = absl::StrCat(" ", text);
    text = prefixed;
  }
  // Matchers carry match state, so each call makes its own (lazily: most text is one run).
  std::vector<std::unique_ptr<icu::RegexMatcher>> matchers(compiled_->patterns.size());
  std::string normalized;
  std::vector<Part> parts;
  std::vector<Span> spans;
  std::vector<Span> next_spans;
  const RegexSplit* stopped = nullptr;  // the split whose regex spent the last of the budget
  ForEachUtf8Run(text, [&](absl::string_view run, bool valid) {
    if (!valid) {
      on_piece(run);
      return;
    }
    if (compiled_->normalizer != nullptr) {
      normalized.clear();
      icu::StringByteSink<std::string> sink(&normalized);
      UErrorCode status = U_ZERO_ERROR;
      compiled_->normalizer->normalizeUTF8(0, icu::StringPiece(run.data(), run.size()), sink,
                                           nullptr, status);
      if (U_SUCCESS(status)) run = normalized;
    }
    spans.assign(1, Span{0, run.size()});
    for (size_t k = 0; k < compiled_->patterns.size() && !budget.exhausted(); ++k) {
      if (matchers[k] == nullptr) {
        UErrorCode status = U_ZERO_ERROR;
        matchers[k].reset(compiled_->patterns[k]->matcher(status));
        if (matchers[k] != nullptr) budget.Attach(*matchers[k], status);
        if (U_FAILURE(status)) matchers[k].reset();
        if (matchers[k] == nullptr) continue;  // out of memory: leave the pieces as they are
      }
      next_spans.clear();
      for (const Span& span : spans) {
        if (budget.exhausted()) {  // the rest of this run stays as the earlier splits cut it
          next_spans.push_back(span);
          continue;
        }
        const UErrorCode status = FindParts(run.substr(span.begin, span.end - span.begin),
                                            *matchers[k], options_.splits[k].invert, &parts);
        if (status == U_REGEX_STOPPED_BY_CALLER) stopped = &options_.splits[k];
        ApplyBehavior(parts, options_.splits[k].behavior, span.begin, &next_spans);
      }
      spans.swap(next_spans);
    }
    for (const Span& span : spans) {
      if (span.end > span.begin) on_piece(run.substr(span.begin, span.end - span.begin));
    }
  });
  if (!budget.exhausted()) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "pre-tokenizer regex ", stopped == nullptr ? "matching" : Echo(stopped->pattern),
      " exceeded its work budget of ", budget.total(),
      " ticks; the pattern backtracks catastrophically on this text (fix the tokenizer's "
      "pattern)"));
}

}  // namespace plumb::tokenizer
