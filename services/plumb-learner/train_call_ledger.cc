#include "services/plumb-learner/train_call_ledger.h"

#include "absl/strings/str_cat.h"

namespace plumb::learner {

absl::StatusOr<std::optional<TrainStats>> TrainCallLedger::BeginTrain(uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  if (sequence != 0) {
    if (sequence == last_sequence_) return std::optional<TrainStats>(last_stats_);
    if (sequence != last_sequence_ + 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("sequence ", sequence, " does not follow ", last_sequence_));
    }
  }
  if (!failed_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the session FAILED: ", failed_,
                     " (restart every rank, then StartSession or LoadCheckpoint)"));
  }
  if (training_) return absl::AbortedError("another Train call is running");
  training_ = true;
  return std::optional<TrainStats>();
}

void TrainCallLedger::EndTrain(uint64_t sequence, const absl::StatusOr<TrainStats>& result) {
  NoteResult(result.status());
  absl::MutexLock lock(&mu_);
  training_ = false;
  if (result.ok() && sequence != 0) {
    last_sequence_ = sequence;
    last_stats_ = *result;
  }
}

void TrainCallLedger::NoteResult(const absl::Status& status) {
  if (world_size_ == 1 || status.code() != absl::StatusCode::kUnavailable) return;
  absl::MutexLock lock(&mu_);
  if (failed_.empty()) failed_ = std::string(status.message());
}

absl::Status TrainCallLedger::CheckNotFailed() const {
  absl::MutexLock lock(&mu_);
  if (failed_.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the session FAILED: ", failed_,
                   " (restart every rank, then StartSession or LoadCheckpoint)"));
}

void TrainCallLedger::Recovered() {
  absl::MutexLock lock(&mu_);
  failed_.clear();
}

void TrainCallLedger::Reset() {
  absl::MutexLock lock(&mu_);
  last_sequence_ = 0;
  last_stats_ = TrainStats();
}

bool TrainCallLedger::training() const {
  absl::MutexLock lock(&mu_);
  return training_;
}

uint64_t TrainCallLedger::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

std::string TrainCallLedger::failure() const {
  absl::MutexLock lock(&mu_);
  return failed_;
}

}  // namespace plumb::learner
