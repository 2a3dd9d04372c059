// JobStore::ListJobs: filtered, newest-first keyset paging with opaque tokens bound to the
// filter.
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/plumb-coordinator/job_record_checks.h"
#include "services/plumb-coordinator/job_store.h"
#include "services/plumb-coordinator/job_store_rows.h"
#include "services/plumb-coordinator/record_json.h"

namespace plumb::coordinator {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr size_t kMaxPageTokenBytes = 1024;
constexpr char kTokenMagic[] = "PJ1";  // version of the token layout
constexpr size_t kTokenMagicBytes = 3;
constexpr size_t kMaxFilterStates = 64;

// Where the previous page ended.
struct Cursor {
  int64_t create_micros = 0;
  std::string job_id;
};

void AppendPiece(std::string& out, absl::string_view piece) {
  absl::StrAppend(&out, piece.size(), ":", piece, ";");
}

// A stable fingerprint of the filter (the same across processes and restarts): states sorted
// and de-duplicated, labels in key order, each piece length-prefixed.
uint64_t FilterFingerprint(const JobFilter& filter) {
  std::string canonical;
  AppendPiece(canonical, filter.owner.has_value() ? absl::StrCat("u", *filter.owner) : "*");
  std::vector<int> states;
  for (JobState state : filter.states) states.push_back(static_cast<int>(state));
  std::sort(states.begin(), states.end());
  states.erase(std::unique(states.begin(), states.end()), states.end());
  for (int state : states) AppendPiece(canonical, absl::StrCat("s", state));
  AppendPiece(canonical, absl::StrCat("k", filter.kind));
  for (const auto& [key, value] : filter.labels) {
    AppendPiece(canonical, key);
    AppendPiece(canonical, value);
  }
  return XXH3_64bits(canonical.data(), canonical.size());
}

void AppendUint64(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t ReadUint64(absl::string_view bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  return value;
}

std::string MakeToken(uint64_t fingerprint, const JobRecord& last) {
  std::string raw(kTokenMagic, kTokenMagicBytes);
  AppendUint64(raw, fingerprint);
  AppendUint64(raw, static_cast<uint64_t>(absl::ToUnixMicros(last.status.create_time)));
  raw.append(last.job_id);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<Cursor> ParseToken(absl::string_view token, uint64_t fingerprint) {
  const absl::Status malformed = absl::InvalidArgumentError(
      "page_token: malformed (pass the next_page_token of the previous page unchanged)");
  if (token.size() > kMaxPageTokenBytes) return malformed;
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return malformed;
  constexpr size_t kHeader = kTokenMagicBytes + 16;
  if (raw.size() <= kHeader || raw.size() > kHeader + kMaxJobIdBytes ||
      raw.compare(0, kTokenMagicBytes, kTokenMagic) != 0) {
    return malformed;
  }
  if (ReadUint64(absl::string_view(raw).substr(kTokenMagicBytes)) != fingerprint) {
    return absl::InvalidArgumentError(
        "page_token: issued for a different filter; list again from the first page");
  }
  return Cursor{
      static_cast<int64_t>(ReadUint64(absl::string_view(raw).substr(kTokenMagicBytes + 8))),
      raw.substr(kHeader)};
}

absl::Status CheckFilter(const JobFilter& filter) {
  if (filter.owner.has_value() && filter.owner->size() > kMaxOwnerBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter.owner: ", filter.owner->size(), " bytes; at most ", kMaxOwnerBytes));
  }
  if (filter.states.size() > kMaxFilterStates) {
    return absl::InvalidArgumentError(absl::StrCat("filter.states: ", filter.states.size(),
                                                   " entries; at most ", kMaxFilterStates));
  }
  if (filter.kind < 0) {
    return absl::InvalidArgumentError(absl::StrCat("filter.kind: ", filter.kind, " is negative"));
  }
  if (filter.labels.size() > kMaxLabels) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter.labels: ", filter.labels.size(), " entries; at most ", kMaxLabels));
  }
  for (const auto& [key, value] : filter.labels) {
    if (key.size() > kMaxLabelKeyBytes || value.size() > kMaxLabelValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat("filter.labels: a key over ",
                                                     kMaxLabelKeyBytes, " or a value over ",
                                                     kMaxLabelValueBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JobPage> JobStore::ListJobs(const JobFilter& filter, int page_size,
                                           absl::string_view page_token, bool include_spec) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: ", page_size, " is negative"));
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  RETURN_IF_ERROR(CheckFilter(filter));
  ASSIGN_OR_RETURN(const int64_t state_mask, StateMask(filter.states, "filter.states"));
  ASSIGN_OR_RETURN(const std::string labels, EncodeLabels(filter.labels, "filter"));
  const uint64_t fingerprint = FilterFingerprint(filter);
  std::optional<Cursor> cursor;
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(cursor, ParseToken(page_token, fingerprint));
  }

  absl::MutexLock lock(&mu_);
  // One static statement for every filter: an absent condition is switched off by its
  // parameter (NULL owner, zero mask or kind, an empty label object, no cursor).
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare(absl::StrCat(
                       SelectJobs(include_spec),
                       " WHERE (?1 IS NULL OR owner = ?1)"
                       " AND (?2 = 0 OR (?2 >> state) & 1 = 1)"
                       " AND (?3 = 0 OR kind = ?3)"
                       " AND NOT EXISTS (SELECT 1 FROM json_each(?4) AS wanted WHERE NOT EXISTS ("
                       "   SELECT 1 FROM json_each(jobs.labels) AS held"
                       "   WHERE held.key = wanted.key AND held.value = wanted.value))"
                       " AND (?5 IS NULL OR create_time < ?5 OR (create_time = ?5 AND job_id < ?6))"
                       " ORDER BY create_time DESC, job_id DESC LIMIT ?7")));
  if (filter.owner.has_value()) {
    select.BindText(1, *filter.owner);
  } else {
    select.BindNull(1);
  }
  select.Bind(2, state_mask).Bind(3, int64_t{filter.kind}).BindText(4, labels);
  if (cursor.has_value()) {
    select.Bind(5, cursor->create_micros).BindText(6, cursor->job_id);
  } else {
    select.BindNull(5).BindNull(6);
  }
  select.Bind(7, int64_t{page_size} + 1);  // one more tells whether another page follows
  JobPage page;
  while (true) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    if (page.jobs.size() == static_cast<size_t>(page_size)) {
      page.next_page_token = MakeToken(fingerprint, page.jobs.back());
      break;
    }
    ASSIGN_OR_RETURN(JobRecord job, ReadJobRow(select));
    page.jobs.push_back(std::move(job));
  }
  return page;
}

}  // namespace plumb::coordinator
