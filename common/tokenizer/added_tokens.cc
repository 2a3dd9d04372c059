#include "common/tokenizer/added_tokens.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"

namespace plumb::tokenizer {

AddedTokenMatcher::AddedTokenMatcher(absl::Span<const AddedToken> tokens) {
  absl::flat_hash_set<absl::string_view> seen;
  entries_.reserve(tokens.size());
  for (const AddedToken& token : tokens) {
    if (token.content.empty() || !seen.insert(token.content).second) continue;
    entries_.push_back({token.content, token.id, token.special});
  }
  for (uint32_t i = 0; i < entries_.size(); ++i) {
    const auto first = static_cast<uint8_t>(entries_[i].content[0]);
    by_first_byte_[first].push_back(i);
    starts_any_[first] = true;
    if (!entries_[i].special) starts_non_special_[first] = true;
  }
  for (auto& candidates : by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(), [&](uint32_t a, uint32_t b) {
      return entries_[a].content.size() > entries_[b].content.size();
    });
  }
}

void AddedTokenMatcher::Split(absl::string_view text, bool allow_special,
                              absl::FunctionRef<void(absl::string_view)> on_text,
                              absl::FunctionRef<void(int32_t)> on_token) const {
  const std::array<bool, 256>& starts = allow_special ? starts_any_ : starts_non_special_;
  size_t stretch_start = 0;
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<uint8_t>(text[i]);
    const Entry* match = nullptr;
    if (starts[byte]) {
      const absl::string_view rest = text.substr(i);
      for (uint32_t index : by_first_byte_[byte]) {
        const Entry& entry = entries_[index];
        if ((allow_special || !entry.special) && absl::StartsWith(rest, entry.content)) {
          match = &entry;
          break;
        }
      }
    }
    if (match == nullptr) {
      ++i;
      continue;
    }
    if (i > stretch_start) on_text(text.substr(stretch_start, i - stretch_start));
    on_token(match->id);
    i += match->content.size();
    stretch_start = i;
  }
  if (text.size() > stretch_start) on_text(text.substr(stretch_start));
}

}  // namespace plumb::tokenizer
