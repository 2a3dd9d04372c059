// A streaming, deterministically shuffled, resumable, shardable reader of JSONL training data.
//
// Open() scans the files once and keeps only each non-blank line's location (16 bytes); lines
// are parsed when read. Epoch e visits the training lines in EpochPermutation(n, seed, e) (file
// order with shuffle: false). NextBatch(B, rank, W) gathers the next B valid examples for the
// whole job, rolling into the next epoch (new order) mid-batch when one ends, and returns this
// rank's slice [rank*B/W, (rank+1)*B/W); every rank calls it with the same B and W, so W ranks
// together see exactly what one process with batch B sees.
//
// Malformed lines are found when read, not when indexed. Under on_malformed: skip, a malformed
// line is passed over and the next line of the order takes its place, so a batch still holds B
// examples and the order stays a function of (seed, data) alone. Failed calls change nothing.
//
// Thread safety: none; a dataset is used by one thread.
#ifndef PLUMB_COMMON_DATA_JSONL_DATASET_H_
#define PLUMB_COMMON_DATA_JSONL_DATASET_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/data/dataset_options.h"
#include "common/data/dataset_state.h"
#include "common/data/example.h"
#include "common/data/line_index.h"

namespace plumb::data {

class JsonlDataset {
 public:
  // Indexes options.files (and options.eval_files). Errors: a file that cannot be read, no
  // non-blank training line, more than 2^32 - 1 training lines.
  static absl::StatusOr<std::unique_ptr<JsonlDataset>> Open(const DatasetOptions& options);

  // This rank's slice of the next global batch of `global_batch_size` examples (see above).
  // INVALID_ARGUMENT for a bad size/rank, the first malformed line under `stop`, too many
  // malformed lines under `skip`, or training data that is all malformed.
  absl::StatusOr<std::vector<Example>> NextBatch(int64_t global_batch_size, int rank = 0,
                                                 int world_size = 1);

  DataCursor cursor() const { return cursor_; }
  // Jumps to `cursor` (position <= train_size()). Malformed counts for the epoch restart at 0;
  // LoadState restores them too.
  absl::Status Restore(const DataCursor& cursor);

  // The cursor, seed, data fingerprint and progress counters as one line of JSON.
  std::string SaveState() const;
  // Continues from a SaveState() string. FAILED_PRECONDITION when it was saved for other data
  // (fingerprint), another seed, or another shuffle setting.
  absl::Status LoadState(absl::string_view state);

  // The held-out examples in file order, from the first, at most `max_examples` of them (all
  // when negative). Malformed lines follow on_malformed but do not count towards the fraction.
  absl::StatusOr<std::vector<Example>> ReadEval(int64_t max_examples = -1);

  const DatasetStats& stats() const { return stats_; }
  int64_t train_size() const { return static_cast<int64_t>(train_.size()); }
  int64_t eval_size() const { return static_cast<int64_t>(eval_.size()); }
  // "files=F bytes=B lines=L train=T digest=HEX": what SaveState checks on resume.
  const std::string& fingerprint() const { return fingerprint_; }
  // Where the training line at `position` of `epoch`'s order is (position < train_size()).
  LineLocation TrainLineAt(uint64_t epoch, uint64_t position);

 private:
  JsonlDataset(DatasetOptions options, std::vector<std::string> all_files);

  absl::StatusOr<Example> ReadExample(const LineLocation& location, MalformedReason* reason);

  DatasetOptions options_;
  LineReader reader_;
  std::vector<LineLocation> train_;  // in file order
  std::vector<LineLocation> eval_;   // in file order
  std::string fingerprint_;
  DataCursor cursor_;
  int64_t epoch_malformed_ = 0;
  DatasetStats stats_;
  std::optional<uint64_t> order_epoch_;  // the epoch whose permutation `order_` holds
  std::vector<uint32_t> order_;
};

}  // namespace plumb::data

#endif  // PLUMB_COMMON_DATA_JSONL_DATASET_H_
