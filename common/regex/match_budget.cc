#include "common/regex/match_budget.h"

#include <unicode/regex.h>

namespace plumb::regex {

RegexMatchBudget RegexMatchBudget::ForText(size_t bytes, size_t passes) {
  const auto per_pass = kRegexTicksPerText + static_cast<int64_t>(bytes / kRegexBytesPerTick);
  return RegexMatchBudget(per_pass * static_cast<int64_t>(passes == 0 ? 1 : passes));
}

void RegexMatchBudget::Attach(icu::RegexMatcher& matcher, UErrorCode& status) {
  matcher.setMatchCallback(&RegexMatchBudget::OnTick, this, status);
}

UBool RegexMatchBudget::OnTick(const void* context, int32_t /*steps*/) {
  // ICU passes the context back as const; the budget is this call's own, mutable state.
  auto* budget = static_cast<RegexMatchBudget*>(const_cast<void*>(context));
  return --budget->remaining_ > 0;
}

}  // namespace plumb::regex
