// Where a stage's DatasetSource reads from, and the plain-text example rule, shared by the prompt
// source (online stages) and the offline data (offline stages):
//   "builtin:fortunes"  every fortune file of Debian's `fortunes` packages
//                       (/usr/share/games/fortunes; the index .dat files and .u8 links skipped);
//   a directory         its *.jsonl files (or, for PLAIN_TEXT, every regular file), sorted;
//   a file              itself.
//
// Thread safety: pure functions.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_DATASET_FILES_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_DATASET_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/plumb-coordinator/job_plan.h"

namespace plumb::coordinator {

inline constexpr int64_t kMaxDatasetFileBytes = int64_t{1} << 30;
inline constexpr int64_t kMaxDatasetFiles = 4096;
// The builtin corpora: name -> folder.
inline constexpr char kFortunesFolder[] = "/usr/share/games/fortunes";

// The files of `source`, in reading order. NOT_FOUND for an unknown builtin name or a missing
// folder (naming the Debian package that provides it), INVALID_ARGUMENT for a folder without
// data files, RESOURCE_EXHAUSTED past kMaxDatasetFiles.
absl::StatusOr<std::vector<std::string>> SourceFiles(const DatasetSource& source);

// PLAIN_TEXT examples: separated by lines holding only "%" (the fortune(6) format), or one per
// non-empty line when the text has no such separator. Blank examples are dropped.
std::vector<std::string> PlainTextExamples(const std::string& text);

// How many entries a source of `n` examples with sampling weight `weight` contributes to one
// pass over a stage's data: round(weight * n), at least 1 when n > 0 (the source's examples
// repeated in order, so a weight of 2 visits each twice and 0.5 the first half before the shuffle).
int64_t WeightedCount(int64_t n, double weight);

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_DATASET_FILES_H_
