// The session state a learner keeps between RPCs, apart from the model: which Train call is
// running (one at a time: a second is ABORTED, before any rank hears of it), the answer to the
// last sequenced Train (a retry of it is answered from memory, never trained twice; a gap is
// FAILED_PRECONDITION), and whether a lost data-parallel rank FAILED the session. No gRPC: the
// adapter converts, this decides.
//
// Thread safety: every method from any thread.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_TRAIN_CALL_LEDGER_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_TRAIN_CALL_LEDGER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/api/learner_types.h"

namespace plumb::learner {

class TrainCallLedger {
 public:
  // `world_size` > 1: an UNAVAILABLE answer means a rank was lost.
  explicit TrainCallLedger(int world_size) : world_size_(world_size) {}

  // Before a Train call with `sequence` (0 = unsequenced). Answers, in order: the remembered
  // stats of a retry (the caller returns them, nothing runs); FAILED_PRECONDITION for a gap in
  // the sequence or a FAILED session; ABORTED while another Train runs. Otherwise nullopt, and
  // the caller must call EndTrain.
  absl::StatusOr<std::optional<TrainStats>> BeginTrain(uint64_t sequence);
  // After the call BeginTrain let run: remembers a sequenced success; notes a lost rank.
  void EndTrain(uint64_t sequence, const absl::StatusOr<TrainStats>& result);

  // Any state-changing call's answer: with several ranks, UNAVAILABLE FAILS the session until
  // a StartSession or LoadCheckpoint succeeds (Recovered).
  void NoteResult(const absl::Status& status);
  absl::Status CheckNotFailed() const;
  void Recovered();
  // A new session: the sequence memory starts again.
  void Reset();

  bool training() const;
  uint64_t last_sequence() const;
  std::string failure() const;  // "" = not FAILED

 private:
  const int world_size_;
  mutable absl::Mutex mu_;
  bool training_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  TrainStats last_stats_ ABSL_GUARDED_BY(mu_);
  std::string failed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_TRAIN_CALL_LEDGER_H_
