#include "services/plumb-scorer/rule_objectives.h"

#include <unicode/regex.h>
#include <unicode/unistr.h>
#include <unicode/utypes.h>

#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/regex/match_budget.h"
#include "common/status/status_macros.h"
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
  LengthObjective(const ObjectiveOptions& objective, const LengthOptions& options,
                  std::unique_ptr<tokenizer::Tokenizer> tokenizer)
      : TextObjective(objective, std::move(tokenizer)), options_(options) {}

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
  FormatObjective(const ObjectiveOptions& objective, const FormatOptions& options,
                  std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                  std::unique_ptr<icu::RegexPattern> pattern)
      : TextObjective(objective, std::move(tokenizer)),
        options_(options),
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

absl::Status ParseLength(config::ConfigMap& m, absl::string_view /*base_dir*/, LengthOptions* o) {
  RETURN_IF_ERROR(RequireKey(m, "target_chars", "target_chars: 200"));
  RETURN_IF_ERROR(m.Read("target_chars", &o->target_chars, config::IntRange{0, 1'000'000'000}));
  return m.Read("scale", &o->scale,
                config::DoubleRange{0.0, kLargestConfigNumber, /*min_exclusive=*/true});
}

absl::Status ValidateLength(const LengthOptions& o) {
  if (o.target_chars < 0 || !(o.scale > 0) || !std::isfinite(o.scale)) {
    return absl::InvalidArgumentError("target_chars must be >= 0 and scale finite and > 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ScoringObjective>> CreateLength(const ObjectiveOptions& objective,
                                                               const LengthOptions& options,
                                                               int /*max_batch_size*/) {
  ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                   LoadObjectiveTokenizer(objective));
  return std::make_unique<LengthObjective>(objective, options, std::move(tokenizer));
}

absl::Status ParseFormat(config::ConfigMap& m, absl::string_view /*base_dir*/, FormatOptions* o) {
  RETURN_IF_ERROR(RequireKey(m, "pattern", "pattern: '(?s)Answer: .+'"));
  RETURN_IF_ERROR(m.Read("pattern", &o->pattern));
  if (o->pattern.empty()) return m.Error("pattern", "must not be empty");
  RETURN_IF_ERROR(m.Read("score_match", &o->score_match));
  return m.Read("score_miss", &o->score_miss);
}

absl::Status ValidateFormat(const FormatOptions& o) {
  if (o.pattern.empty()) return absl::InvalidArgumentError("pattern is empty");
  if (!std::isfinite(o.score_match) || !std::isfinite(o.score_miss)) {
    return absl::InvalidArgumentError("scores must be finite");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ScoringObjective>> CreateFormat(const ObjectiveOptions& objective,
                                                               const FormatOptions& options,
                                                               int /*max_batch_size*/) {
  UErrorCode status = U_ZERO_ERROR;
  UParseError where;
  const std::string& text = options.pattern;
  std::unique_ptr<icu::RegexPattern> pattern(icu::RegexPattern::compile(
      icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size())), 0, where, status));
  if (U_FAILURE(status)) {
    return absl::InvalidArgumentError(
        absl::StrCat("objective '", objective.name, "': pattern '", text,
                     "' is not a valid ICU regular expression (", u_errorName(status),
                     " at offset ", where.offset, ")"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                   LoadObjectiveTokenizer(objective));
  return std::make_unique<FormatObjective>(objective, options, std::move(tokenizer),
                                           std::move(pattern));
}

}  // namespace

std::shared_ptr<const ScoringObjectiveKind> LengthObjectiveKind() {
  static const auto* const kind =
      new std::shared_ptr<const ScoringObjectiveKind>(MakeObjectiveKind<LengthOptions>({
          .name = "length",
          .category = ObjectiveCategory::kRule,
          .parse = ParseLength,
          .validate = ValidateLength,
          .create = CreateLength,
      }));
  return *kind;
}

std::shared_ptr<const ScoringObjectiveKind> FormatObjectiveKind() {
  static const auto* const kind =
      new std::shared_ptr<const ScoringObjectiveKind>(MakeObjectiveKind<FormatOptions>({
          .name = "format",
          .category = ObjectiveCategory::kRule,
          .parse = ParseFormat,
          .validate = ValidateFormat,
          .create = CreateFormat,
      }));
  return *kind;
}

}  // namespace plumb::scorer
