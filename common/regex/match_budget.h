// A bound on the work ICU's regex engine may do, shared by every match it is attached to, so a
// pathological pattern (catastrophic backtracking: /(a+)+$/ on "aaa...a!") fails fast instead of
// running for hours. ICU counts match work in ticks of ~10,000 backtracking steps (0.1-0.3 ms on
// this machine), the unit of RegexMatcher::setTimeLimit. setTimeLimit's count restarts at every
// reset(), so it cannot bound a whole text matched piece by piece; the budget's count never
// restarts (it is spent through ICU's match callback, called once per tick).
//
// Thread safety: none; one budget belongs to one call on one thread.
#ifndef PLUMB_COMMON_REGEX_MATCH_BUDGET_H_
#define PLUMB_COMMON_REGEX_MATCH_BUDGET_H_

#include <unicode/utypes.h>
#include <unicode/uversion.h>

#include <cstddef>
#include <cstdint>

U_NAMESPACE_BEGIN
class RegexMatcher;
U_NAMESPACE_END

namespace plumb::regex {

// Ticks one match of a short text may spend (~0.5 s): the scorer's format rule.
inline constexpr int64_t kRegexTicksPerMatch = 2000;
// ForText: ordinary patterns (GPT-2's, Llama 3's pre-tokenizers) spend ~1 tick per 3 KB of text;
// a text gets kRegexTicksPerText (~60 ms) plus 1 tick per kRegexBytesPerTick bytes, ~50x that.
inline constexpr int64_t kRegexTicksPerText = 256;
inline constexpr size_t kRegexBytesPerTick = 64;

class RegexMatchBudget {
 public:
  explicit RegexMatchBudget(int64_t ticks) : remaining_(ticks), total_(ticks) {}
  // kRegexTicksPerText + bytes / kRegexBytesPerTick, times `passes` (patterns run over the text).
  static RegexMatchBudget ForText(size_t bytes, size_t passes = 1);

  RegexMatchBudget(const RegexMatchBudget&) = delete;
  RegexMatchBudget& operator=(const RegexMatchBudget&) = delete;
  RegexMatchBudget(RegexMatchBudget&&) = default;

  // Makes `matcher`'s match operations spend this budget; once it is spent they stop and fail
  // with U_REGEX_STOPPED_BY_CALLER. The budget must outlive the matcher's use with it.
  void Attach(icu::RegexMatcher& matcher, UErrorCode& status);

  bool exhausted() const { return remaining_ <= 0; }
  int64_t total() const { return total_; }

 private:
  static UBool OnTick(const void* context, int32_t steps);

  int64_t remaining_;
  int64_t total_;
};

}  // namespace plumb::regex

#endif  // PLUMB_COMMON_REGEX_MATCH_BUDGET_H_
