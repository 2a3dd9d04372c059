// Data-parallel learner ranks. One plumb-learner process runs per rank, started the way torchrun
// starts trainers (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Rank 0 serves plumb.v1.Learner;
// every call that changes training state (StartSession, Train, LoadCheckpoint, EndSession) is
// broadcast as its request message to the other ranks and then run on every rank at once, by the
// same functions (RunStartSession, RunTrain), so every rank's LearnerCore sees the same calls in
// the same order. Inside a call the cores split each minibatch and sum gradients (see
// learner_core.h). Calls that only read (PublishWeights, SaveCheckpoint, GetInfo) run on rank 0
// alone: the weights are identical on every rank.
//
// Liveness: an idle rank 0 sends a heartbeat every `heartbeat` so that the other ranks, blocked
// waiting for the next command, do not hit the collective timeout; a rank that loses rank 0 (no
// command within the timeout, or a broken connection) exits with an error, and rank 0 answers
// the calls whose collectives fail with that error. On drain, rank 0 sends a shutdown command.
//
// Thread safety: Replicator::Run may be called from any thread; it serialises the calls.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_REPLICATION_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_REPLICATION_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/train/distributed.h"
#include "plumb/v1/learner.pb.h"
#include "services/plumb-learner/learner_core.h"

namespace plumb::learner {

// StartSession on a core from the request, with the session id chosen by rank 0.
absl::StatusOr<SessionStatus> RunStartSession(LearnerCore& core,
                                              const v1::StartSessionRequest& request,
                                              const std::string& id, bool* created);
// One Train call on a core from the request (its batch converted to the core's types).
// `cancelled` is rank 0's caller (the other ranks pass none and follow rank 0's vote).
absl::StatusOr<TrainStats> RunTrain(LearnerCore& core, const v1::TrainRequest& request,
                                    const CancelPredicate& cancelled = {});

enum class Command : int64_t {
  kHeartbeat = 1,
  kStartSession = 2,
  kTrain = 3,
  kLoadCheckpoint = 4,
  kEndSession = 5,
  kShutdown = 6,
};

// Rank 0's side.
class Replicator {
 public:
  // `world` (not owned) must outlive the replicator. A world of one sends nothing.
  Replicator(train::World* world, absl::Duration heartbeat);
  // Sends the shutdown command (if not sent yet) and stops the heartbeat.
  ~Replicator();

  // Broadcasts (command, id, request) to the other ranks, then runs `local` on this rank, all
  // under one lock so that every rank sees the same order. A failed broadcast is UNAVAILABLE
  // and `local` is not run.
  absl::Status Run(Command command, const std::string& id, const google::protobuf::Message* request,
                   const std::function<void()>& local);
  // Tells the other ranks to exit. Later Run calls answer UNAVAILABLE.
  void Shutdown();

 private:
  absl::Status SendLocked(Command command, const std::string& id,
                          const google::protobuf::Message* request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  train::World* world_;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification stop_;
  std::thread heartbeat_;
};

// A non-zero rank's side: receives commands from rank 0 and runs them on `core` until the
// shutdown command (OK) or until rank 0 is lost (UNAVAILABLE).
absl::Status FollowRankZero(train::World* world, LearnerCore* core);

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_REPLICATION_H_
