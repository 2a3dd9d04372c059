// A learner as its callers see it: plumb-learner over gRPC (grpc_clients.h) or an in-memory fake
// (fake_clients.h). Domain types only (common/api/learner_types.h, learner_options.h).
//
// Thread safety: every method may be called from several threads at once (the learner itself
// runs one Train at a time and answers ABORTED to a second).
#ifndef PLUMB_COMMON_CLIENTS_LEARNER_CLIENT_H_
#define PLUMB_COMMON_CLIENTS_LEARNER_CLIENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/api/learner_options.h"
#include "common/api/learner_types.h"
#include "common/clients/call_options.h"

namespace plumb::clients {

struct StartSessionCall {
  learner::SessionOptions options;  // policy_path and value_path are the checkpoints to load
  std::string session_key;          // a retry with the same key returns the same session
  bool replace_active = false;
};

// The batch of one Train call; its kind must suit the session's algorithm.
struct ExperienceBatch {
  std::vector<learner::Experience> experiences;
  double temperature = 1.0;  // the sampling temperature of the rollouts
};
using TrainBatch =
    std::variant<ExperienceBatch, std::vector<learner::PreferenceExample>,
                 std::vector<learner::SftExample>, std::vector<learner::UnpairedExample>,
                 std::vector<learner::RankedGroup>>;

struct TrainCall {
  std::string session_id;
  // > 0: a retry of the same sequence number is answered from the learner's memory instead of
  // training twice; 0 = no idempotency.
  uint64_t sequence = 0;
  TrainBatch batch;
};

struct PublishTarget {
  std::string endpoint;  // must be in the learner's publish_targets
  std::string model;     // the scorer objective to load ("" = the service's only model)
};

struct PublishCall {
  std::string session_id;
  std::vector<PublishTarget> targets;
  std::string dtype = "float32";  // float32 | bfloat16 | float16
  bool allow_downgrade = false;
  std::optional<absl::Duration> target_timeout;  // per target; unset = the learner's default
};

struct PublishTargetOutcome {
  PublishTarget target;
  absl::Status status;  // ALREADY_EXISTS = the target already had this version
  uint64_t bytes = 0;
  uint64_t previous_version = 0;
  double seconds = 0;
};

struct PublishOutcome {
  uint64_t version = 0;
  uint64_t bytes = 0;
  int failed_targets = 0;
  std::vector<PublishTargetOutcome> results;  // in target order
  double seconds = 0;
};

struct LearnerStatus {
  int world_size = 1;
  std::optional<learner::SessionStatus> session;  // the active (or failed) session, if any
};

class LearnerClient {
 public:
  virtual ~LearnerClient() = default;
  virtual const std::string& endpoint() const = 0;

  virtual absl::StatusOr<learner::SessionStatus> StartSession(const StartSessionCall& call,
                                                              const CallOptions& options) = 0;
  virtual absl::StatusOr<learner::TrainStats> Train(const TrainCall& call,
                                                    const CallOptions& options) = 0;
  // The learner streams its weights straight to the targets; they never pass through the caller.
  virtual absl::StatusOr<PublishOutcome> PublishWeights(const PublishCall& call,
                                                        const CallOptions& options) = 0;
  virtual absl::StatusOr<learner::CheckpointInfo> SaveCheckpoint(const std::string& session_id,
                                                                 const std::string& path,
                                                                 bool weights_only, bool overwrite,
                                                                 const CallOptions& options) = 0;
  virtual absl::StatusOr<learner::CheckpointInfo> LoadCheckpoint(const std::string& session_id,
                                                                 const std::string& path,
                                                                 bool weights_only,
                                                                 const CallOptions& options) = 0;
  // The final policy version.
  virtual absl::StatusOr<uint64_t> EndSession(const std::string& session_id,
                                              const CallOptions& options) = 0;
  virtual absl::StatusOr<LearnerStatus> GetStatus(const CallOptions& options) = 0;
};

}  // namespace plumb::clients

#endif  // PLUMB_COMMON_CLIENTS_LEARNER_CLIENT_H_
