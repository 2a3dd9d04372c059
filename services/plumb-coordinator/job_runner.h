// Runs one job on the workers the scheduler leased to it, recording every step in the JobStore:
// stages in order (ITERATIVE jobs: the stage list `iterations` times), and within an online RL
// stage, synchronous rounds through common/rounds (generate on the job's generators -> score and
// reference log-probs in parallel -> one Train call -> the learner publishes the new weights to
// the generators). Each round's completion is committed together with its event and metrics, so a
// restarted coordinator resumes after the last completed round:
//   - the learner session is started with a session key derived from (job, iteration, stage), so
//     a learner that kept the session hands it back and no round is trained twice (a round that
//     trained but was not recorded is run again with the same Train sequence number, which the
//     learner answers from its memory);
//   - a learner that lost the session (it restarted) starts a new one from the stage's latest
//     checkpoint and the rounds after that checkpoint run again.
// A worker that fails a round: generators are replaced within the round by common/rounds; a lost
// scorer, reference or learner pauses the job (an event names the role) until the pool has a
// healthy one again, then the round is retried, up to the spec's max_round_restarts per round
// when the failure is not a lost worker. A job that fails for a reason that is not the spec's
// (UNAVAILABLE, INTERNAL, ...) restarts from its last completed round up to max_retries times.
//
// Thread safety: Run() is called once, on the job's own thread; Cancel() from any thread.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_RUNNER_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_RUNNER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clients/call_options.h"
#include "common/rounds/rounds.h"
#include "services/plumb-coordinator/client_factory.h"
#include "services/plumb-coordinator/coordinator_metrics.h"
#include "services/plumb-coordinator/job_plan.h"
#include "services/plumb-coordinator/job_store.h"
#include "services/plumb-coordinator/prompt_source.h"
#include "services/plumb-coordinator/worker_pool.h"

namespace plumb::coordinator {

// The workers a job runs on (endpoints), chosen by the scheduler.
struct JobResources {
  std::string learner;
  std::vector<std::string> generators;  // at least one
  std::string scorer;
  std::string reference;
};

struct RunnerEnv {
  JobStore* store = nullptr;
  ClientFactory* clients = nullptr;
  WorkerPool* pool = nullptr;
  CoordinatorMetrics* metrics = nullptr;  // may be null
  // Re-checks the pool this often while a job waits for a worker of a lost role.
  absl::Duration pause_poll = absl::Milliseconds(200);
};

enum class RunEnd {
  kSucceeded,
  kFailed,
  kCancelled,
  kInterrupted,  // Stop(): the coordinator is shutting down; the job stays RUNNING and resumes
};

class JobRunner {
 public:
  JobRunner(RunnerEnv env, std::string job_id, JobPlan plan, JobResources resources);

  // Runs (or resumes) the job to its end and records the terminal state (except kInterrupted).
  RunEnd Run();
  // CancelJob: in-flight calls are cancelled; the job ends CANCELLED at the next safe point.
  void Cancel();
  // Coordinator shutdown: in-flight calls are cancelled; the job is left RUNNING.
  void Stop();

 private:
  // Every stage from the job's resume point (its last completed round) to the end.
  absl::Status RunStages();
  absl::Status RunStage(int iteration, int stage_index, int first_round);
  // SFT, REWARD_MODEL, OFFLINE_PREFERENCE (Train calls over train_data, one "round" per call,
  // resumed at the data cursor), ONLINE_RL, REJECTION_SAMPLING and ONLINE_PREFERENCE (rounds).
  absl::Status RunTrainingStage(int iteration, int stage_index, int first_round);
  // EVALUATION: the stage's initial policy sampled and scored on its prompts, nothing trained.
  absl::Status RunEvaluationStage(int iteration, int stage_index);
  // What one held-out evaluation samples and scores.
  struct EvaluationRun {
    const PromptSource* prompts = nullptr;
    int max_prompts = 0;
    generator::SamplingRequest sampling;
    std::vector<std::string> objectives;
    uint64_t seed = 0;
  };
  // Samples and scores `run` on the job's generators and scorer (with the reference's KL) and
  // records an EVALUATION event with "eval/..." metrics; with `stage_result` they are also kept
  // in the stage's record.
  absl::Status Evaluate(const EvaluationRun& run, int64_t round, clients::LearnerClient* learner,
                        const std::string& session, bool stage_result);
  std::string StageOutput(int iteration, int stage_index) const;
  // The stage's policy_checkpoint, else the previous stage's output, else the job's base.
  std::string InitialPolicy(const StagePlan& stage) const;
  // The stage's stored record, or a new one starting now.
  absl::StatusOr<StageRecord> StageRecordOf(int iteration, int stage_index);
  // Has the learner stream the session's weights to `targets` (allowing a downgrade) and records
  // a WEIGHTS_PUBLISHED event; a failed target fails the call ("publish: <what> to <endpoint>").
  absl::Status Publish(clients::LearnerClient* learner, const std::string& session,
                       std::vector<clients::PublishTarget> targets, const std::string& what);
  // Publishes the checkpoint at `path` through a short learner session of its own.
  absl::Status PublishCheckpoint(const StagePlan& stage, const std::string& path,
                                 std::vector<clients::PublishTarget> targets,
                                 const std::string& what);
  absl::Status Record(int type, const std::string& message, JobUpdate update);
  // Generates a round ahead (asynchronous rounds), with clients of its own.
  absl::StatusOr<rounds::GeneratedRound> GenerateAhead(const JobResources& endpoints,
                                                       rounds::RoundSpec spec, RetryPlan retry);
  // Waits until the pool has a healthy worker of `role` (replacing `endpoint` by it); an event
  // says the job paused and another that it resumed. CANCELLED when cancelled or stopped.
  absl::Status WaitForRole(WorkerRole role, std::string* endpoint);
  bool stopping() const { return cancelled_.load() || stopped_.load(); }
  clients::CallOptions Call() const;

  RunnerEnv env_;
  const std::string job_id_;
  const JobPlan plan_;
  JobResources resources_;
  std::shared_ptr<clients::Cancellation> cancellation_ = std::make_shared<clients::Cancellation>();
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> stopped_{false};
  // The stage being run, for timeouts and events.
  int iteration_ = 0;
  int stage_index_ = 0;
  std::string previous_output_;  // the previous stage's final checkpoint
  uint64_t policy_version_ = 0;
  int32_t retries_ = 0;
};

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_RUNNER_H_
