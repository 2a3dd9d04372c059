#include "common/data/jsonl_dataset.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/data/seeded_order.h"
#include "common/status/status_macros.h"

namespace plumb::data {

absl::StatusOr<std::unique_ptr<JsonlDataset>> JsonlDataset::Open(const DatasetOptions& options) {
  if (options.files.empty()) return absl::InvalidArgumentError("dataset has no training files");
  if (!(options.eval_fraction >= 0 && options.eval_fraction < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("eval_fraction ", options.eval_fraction, " is not in [0, 1)"));
  }
  if (!(options.max_malformed_fraction >= 0 && options.max_malformed_fraction <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_malformed_fraction ", options.max_malformed_fraction, " is not in [0, 1]"));
  }
  std::vector<std::string> all_files = options.files;
  all_files.insert(all_files.end(), options.eval_files.begin(), options.eval_files.end());
  std::unique_ptr<JsonlDataset> dataset(new JsonlDataset(options, all_files));
  uint64_t bytes = 0;
  uint64_t digest = 0;
  for (uint32_t i = 0; i < all_files.size(); ++i) {
    const bool eval_file = i >= options.files.size();
    auto visit = [&](const LineLocation& location, uint64_t content_hash) {
      const bool held_out = eval_file || InHeldOutSplit(content_hash, options.eval_fraction);
      (held_out ? dataset->eval_ : dataset->train_).push_back(location);
    };
    ASSIGN_OR_RETURN(const FileSummary summary, ScanLines(all_files[i], i, visit));
    bytes += summary.bytes;
    digest = Mix64(digest ^ summary.digest) + summary.lines;
    dataset->stats_.lines_indexed += static_cast<int64_t>(summary.lines - summary.blank_lines);
    dataset->stats_.blank_lines += static_cast<int64_t>(summary.blank_lines);
  }
  if (dataset->train_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.files.front(), options.files.size() > 1 ? " and the other training files" : "",
        ": no training lines (the files are empty or blank",
        options.eval_fraction > 0 ? ", or every line fell into the eval split)" : ")"));
  }
  if (dataset->train_.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError("more than 2^32 - 1 training lines");
  }
  dataset->stats_.train_lines = dataset->train_size();
  dataset->stats_.eval_lines = dataset->eval_size();
  dataset->fingerprint_ =
      absl::StrFormat("files=%d bytes=%d lines=%d train=%d digest=%016x", all_files.size(), bytes,
                      dataset->stats_.lines_indexed, dataset->train_size(), digest);
  return dataset;
}

JsonlDataset::JsonlDataset(DatasetOptions options, std::vector<std::string> all_files)
    : options_(std::move(options)), reader_(std::move(all_files)) {}

LineLocation JsonlDataset::TrainLineAt(uint64_t epoch, uint64_t position) {
  if (!options_.shuffle) return train_[position];
  if (order_epoch_ != epoch) {
    order_ = EpochPermutation(static_cast<uint32_t>(train_.size()), options_.seed, epoch);
    order_epoch_ = epoch;
  }
  return train_[order_[position]];
}

absl::StatusOr<Example> JsonlDataset::ReadExample(const LineLocation& location,
                                                  MalformedReason* reason) {
  ASSIGN_OR_RETURN(const std::string line, reader_.Read(location));
  const SourcePosition position{reader_.files()[location.file], location.line, location.offset};
  return ParseLine(line, options_.format, position, reason);
}

absl::StatusOr<std::vector<Example>> JsonlDataset::NextBatch(int64_t global_batch_size, int rank,
                                                             int world_size) {
  if (global_batch_size < 1 || world_size < 1 || rank < 0 || rank >= world_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NextBatch(global_batch_size=", global_batch_size, ", rank=", rank,
        ", world_size=", world_size, "): need global_batch_size >= 1 and 0 <= rank < world_size"));
  }
  // Work on copies and commit at the end, so that a failed call changes nothing.
  DataCursor cursor = cursor_;
  int64_t epoch_malformed = epoch_malformed_;
  DatasetStats stats = stats_;
  const int64_t begin = rank * global_batch_size / world_size;
  const int64_t end = (rank + 1) * global_batch_size / world_size;
  const uint64_t train_size = train_.size();
  std::vector<Example> slice;
  slice.reserve(static_cast<size_t>(end - begin));
  int64_t gathered = 0;
  uint64_t skipped_in_a_row = 0;
  while (gathered < global_batch_size) {
    if (cursor.position >= train_size) {
      ++cursor.epoch;
      cursor.position = 0;
      epoch_malformed = 0;
    }
    const LineLocation location = TrainLineAt(cursor.epoch, cursor.position);
    ++cursor.position;
    ++stats.lines_read;
    MalformedReason reason = MalformedReason::kInvalidJson;
    absl::StatusOr<Example> example = ReadExample(location, &reason);
    if (example.ok()) {
      if (gathered >= begin && gathered < end) slice.push_back(*std::move(example));
      ++gathered;
      skipped_in_a_row = 0;
      continue;
    }
    if (example.status().code() != absl::StatusCode::kInvalidArgument ||
        options_.on_malformed == MalformedPolicy::kStop) {
      return example.status();
    }
    stats.RecordSkip(MalformedReasonName(reason), example.status().message());
    ++epoch_malformed;
    if (static_cast<double>(epoch_malformed) >
        options_.max_malformed_fraction * static_cast<double>(train_size)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "too many malformed lines: ", epoch_malformed, " of the ", train_size,
          " training lines in epoch ", cursor.epoch,
          " are malformed, above max_malformed_fraction ", options_.max_malformed_fraction,
          " (latest: ", example.status().message(), ")"));
    }
    if (++skipped_in_a_row >= train_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("all ", train_size,
                       " training lines are malformed (latest: ", example.status().message(), ")"));
    }
  }
  stats.examples_yielded += global_batch_size;
  cursor_ = cursor;
  epoch_malformed_ = epoch_malformed;
  stats_ = std::move(stats);
  return slice;
}

absl::Status JsonlDataset::Restore(const DataCursor& cursor) {
  if (cursor.position > train_.size()) {
    return absl::OutOfRangeError(absl::StrCat("data cursor position ", cursor.position,
                                              " is past the ", train_.size(), " training lines"));
  }
  cursor_ = cursor;
  epoch_malformed_ = 0;
  return absl::OkStatus();
}

std::string JsonlDataset::SaveState() const {
  SavedDataState state;
  state.seed = options_.seed;
  state.shuffle = options_.shuffle;
  state.fingerprint = fingerprint_;
  state.cursor = cursor_;
  state.epoch_malformed = epoch_malformed_;
  state.lines_read = stats_.lines_read;
  state.examples_yielded = stats_.examples_yielded;
  state.lines_skipped = stats_.lines_skipped;
  state.skipped_by_reason = stats_.skipped_by_reason;
  return SerializeDataState(state);
}

absl::Status JsonlDataset::LoadState(absl::string_view text) {
  ASSIGN_OR_RETURN(const SavedDataState state, ParseDataState(text));
  if (state.fingerprint != fingerprint_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data state was saved for different data (saved: ", state.fingerprint,
        "; now: ", fingerprint_,
        "); resume with the same files and eval split, or start without the saved state"));
  }
  if (state.seed != options_.seed || state.shuffle != options_.shuffle) {
    return absl::FailedPreconditionError(
        absl::StrCat("data state was saved with seed ", state.seed, " and shuffle ",
                     state.shuffle ? "true" : "false", " but this dataset has seed ", options_.seed,
                     " and shuffle ", options_.shuffle ? "true" : "false",
                     "; use the saved settings to resume"));
  }
  RETURN_IF_ERROR(Restore(state.cursor));
  epoch_malformed_ = state.epoch_malformed;
  stats_.lines_read = state.lines_read;
  stats_.examples_yielded = state.examples_yielded;
  stats_.lines_skipped = state.lines_skipped;
  stats_.skipped_by_reason = state.skipped_by_reason;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Example>> JsonlDataset::ReadEval(int64_t max_examples) {
  std::vector<Example> examples;
  for (const LineLocation& location : eval_) {
    if (max_examples >= 0 && static_cast<int64_t>(examples.size()) >= max_examples) break;
    MalformedReason reason = MalformedReason::kInvalidJson;
    absl::StatusOr<Example> example = ReadExample(location, &reason);
    if (example.ok()) {
      examples.push_back(*std::move(example));
    } else if (example.status().code() == absl::StatusCode::kInvalidArgument &&
               options_.on_malformed == MalformedPolicy::kSkip) {
      stats_.RecordSkip(MalformedReasonName(reason), example.status().message());
    } else {
      return example.status();
    }
  }
  return examples;
}

}  // namespace plumb::data
