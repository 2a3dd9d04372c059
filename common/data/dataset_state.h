// The resumable state of a JsonlDataset: where it is in the seeded order (DataCursor), what it
// has counted (DatasetStats), and the text form saved in checkpoints.
//
// Thread safety: plain values and pure functions.
#ifndef PLUMB_COMMON_DATA_DATASET_STATE_H_
#define PLUMB_COMMON_DATA_DATASET_STATE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::data {

// The next training line to read is `position` in the order of `epoch` (the identity order
// without shuffling, else EpochPermutation(train_size, seed, epoch)). position == train_size
// means the epoch is finished; the next read starts epoch + 1 at position 0.
struct DataCursor {
  uint64_t epoch = 0;
  uint64_t position = 0;
  bool operator==(const DataCursor&) const = default;
};

struct DatasetStats {
  static constexpr size_t kKeptMessages = 10;

  // Fixed when the dataset is opened.
  int64_t lines_indexed = 0;  // non-blank lines in all files
  int64_t blank_lines = 0;    // ignored, never malformed
  int64_t train_lines = 0;
  int64_t eval_lines = 0;
  // Progress; a line read again in a later epoch counts again.
  int64_t lines_read = 0;        // training lines read by NextBatch
  int64_t examples_yielded = 0;  // examples placed in global batches (all ranks' slices)
  int64_t lines_skipped = 0;     // malformed lines skipped under on_malformed: skip (train + eval)
  std::map<std::string, int64_t> skipped_by_reason;  // keyed by MalformedReasonName
  std::vector<std::string> first_messages;           // the first kKeptMessages "FILE:LINE: REASON"

  void RecordSkip(absl::string_view reason, absl::string_view message);
};

// What SaveState writes: enough to continue exactly, and to refuse other data or another order.
struct SavedDataState {
  uint64_t seed = 0;
  bool shuffle = true;
  std::string fingerprint;
  DataCursor cursor;
  int64_t epoch_malformed = 0;  // malformed lines met so far in cursor.epoch
  int64_t lines_read = 0;
  int64_t examples_yielded = 0;
  int64_t lines_skipped = 0;
  std::map<std::string, int64_t> skipped_by_reason;
};

// A one-line JSON object with a "version" field.
std::string SerializeDataState(const SavedDataState& state);
// INVALID_ARGUMENT naming the problem when `text` is not a state written by SerializeDataState.
absl::StatusOr<SavedDataState> ParseDataState(absl::string_view text);

}  // namespace plumb::data

#endif  // PLUMB_COMMON_DATA_DATASET_STATE_H_
