// The rule objectives:
//   length  score = -|characters - target_chars| / scale, characters = Unicode code points
//           (UTF-8 lead bytes), so 0 is best and every `scale` characters off cost 1.
//   format  score_match when ICU's RegexMatcher::matches() accepts the whole response, else
//           score_miss. A match that spends its regex work budget (a pathological
//           pattern/input pair) counts as a miss rather than failing the batch.
#include <unicode/regex.h>
#include <unicode/unistr.h>
#include <unicode/utypes.h>

#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/regex/match_budget.h"
#include "services/plumb-scorer/text_objective.h"

namespace plumb::scorer {
namespace {

int64_t CodePoints(absl::string_view text) {
  int64_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

class LengthObjective final : public TextObjective {
 public:
  LengthObjective(const ObjectiveOptions& options, std::unique_ptr<tokenizer::Tokenizer> tokenizer)
      : TextObjective(options, std::move(tokenizer)), options_(options.length) {}

 protected:
  double ScoreText(absl::string_view text) const override {
    return -std::abs(static_cast<double>(CodePoints(text) - options_.target_chars)) /
           options_.scale;
  }
  std::string Explain() const override {
    return absl::StrCat("length rule: -|characters - ", options_.target_chars, "| / ",
                        options_.scale);
  }

 private:
  const LengthOptions options_;
};

class FormatObjective final : public TextObjective {
 public:
  FormatObjective(const ObjectiveOptions& options, std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                  std::unique_ptr<icu::RegexPattern> pattern)
      : TextObjective(options, std::move(tokenizer)),
        options_(options.format),
        pattern_(std::move(pattern)) {}

 protected:
  double ScoreText(absl::string_view text) const override {
    const icu::UnicodeString input =
        icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size()));
    UErrorCode status = U_ZERO_ERROR;
    // RegexPattern is immutable; each call gets its own matcher, so this is thread-safe.
    std::unique_ptr<icu::RegexMatcher> matcher(pattern_->matcher(input, status));
    if (U_FAILURE(status)) return options_.score_miss;
    regex::RegexMatchBudget budget(regex::kRegexTicksPerMatch);
    budget.Attach(*matcher, status);
    const bool matched = matcher->matches(status);
    return U_SUCCESS(status) && matched ? options_.score_match : options_.score_miss;
  }
  std::string Explain() const override {
    return absl::StrCat("format rule: ", options_.score_match, " when the response matches /",
                        options_.pattern, "/, else ", options_.score_miss);
  }

 private:
  const FormatOptions options_;
  const std::unique_ptr<icu::RegexPattern> pattern_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Objective>> CreateLengthObjective(const ObjectiveOptions& options) {
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tokenizer = LoadObjectiveTokenizer(options);
  if (!tokenizer.ok()) return tokenizer.status();
  return std::make_unique<LengthObjective>(options, *std::move(tokenizer));
}

absl::StatusOr<std::unique_ptr<Objective>> CreateFormatObjective(const ObjectiveOptions& options) {
  UErrorCode status = U_ZERO_ERROR;
  UParseError where;
  const std::string& text = options.format.pattern;
  std::unique_ptr<icu::RegexPattern> pattern(icu::RegexPattern::compile(
      icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size())), 0, where, status));
  if (U_FAILURE(status)) {
    return absl::InvalidArgumentError(
        absl::StrCat("objective '", options.name, "': pattern '", text,
                     "' is not a valid ICU regular expression (", u_errorName(status),
                     " at offset ", where.offset, ")"));
  }
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tokenizer = LoadObjectiveTokenizer(options);
  if (!tokenizer.ok()) return tokenizer.status();
  return std::make_unique<FormatObjective>(options, *std::move(tokenizer), std::move(pattern));
}

}  // namespace plumb::scorer
