#include "services/plumb-model/id_list.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {

absl::StatusOr<std::vector<int64_t>> ParseIdList(absl::string_view text, absl::string_view flag) {
  std::vector<int64_t> ids;
  if (absl::StripAsciiWhitespace(text).empty()) return ids;
  for (absl::string_view entry : absl::StrSplit(text, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    int64_t id = 0;
    if (!absl::SimpleAtoi(entry, &id)) {
      return UsageError(absl::StrCat(flag, " \"", text, "\": \"", entry,
                                     "\" is not an integer; expected token ids like 1,2,3"));
    }
    ids.push_back(id);
  }
  return ids;
}

std::string FormatIdList(absl::Span<const int64_t> ids) { return absl::StrJoin(ids, ","); }

}  // namespace plumb::model_tool
