#include "services/plumb-coordinator/job_runner.h"

#include <algorithm>
#include <future>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/rounds/rounds.h"
#include "common/status/status_macros.h"
#include "services/plumb-coordinator/prompt_source.h"
#include "services/plumb-coordinator/retrying_clients.h"

namespace plumb::coordinator {
namespace {

// plumb.v1.JobEventType numbers.
enum EventType : int {
  kStateChanged = 1,
  kStageStarted = 2,
  kStageFinished = 3,
  kRoundFinished = 5,
  kCheckpointSaved = 8,
  kEvaluation = 9,
  kRetry = 10,
  kWorkerLost = 11,
  kLog = 12,
};

// The stage record's metric holding the round the current learner session started at.
constexpr char kSessionFirstRound[] = "session_first_round";

bool IsOnline(StageKind kind) { return kind == StageKind::kOnlineRl; }

// Rounds (online stages) or 1 (other stages) per stage, for progress.
int64_t StageUnits(const StagePlan& stage) { return IsOnline(stage.kind) ? stage.rounds : 1; }

// Failures worth restarting the job for: a worker or the network, not the spec, the data, the
// job's own deadline or a cancel.
bool Retryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kResourceExhausted:
      return true;
    case absl::StatusCode::kDeadlineExceeded:
      return !absl::StrContains(status.message(), "the job's deadline");
    default:
      return false;
  }
}

bool WorkerUnreachable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

std::string ChildPath(const std::string& folder, const std::string& name) {
  if (folder.empty()) return name;
  return absl::StrCat(folder, folder.back() == '/' ? "" : "/", name);
}

// The learner's version after the round minus the oldest rollout's: the policy lag it trained on.
double VersionsBehind(const rounds::RoundReport& report) {
  if (report.rollouts.empty()) return 0;
  uint64_t oldest = report.rollouts.front().policy_version;
  for (const generator::RolloutResult& r : report.rollouts) {
    oldest = std::min(oldest, r.policy_version);
  }
  return report.stats.policy_version > oldest
             ? static_cast<double>(report.stats.policy_version - oldest)
             : 0.0;
}

void AddRoundMetrics(const rounds::RoundReport& report, MetricMap* metrics) {
  const rounds::RolloutQuality& q = report.quality;
  (*metrics)["rollouts"] = static_cast<double>(q.rollouts);
  (*metrics)["reward_mean"] = q.reward_mean;
  (*metrics)["reward_std"] = q.reward_std;
  (*metrics)["response_tokens_mean"] = q.mean_response_tokens;
  (*metrics)["truncated_fraction"] = q.truncated_fraction;
  (*metrics)["distinct_1"] = q.distinct_1;
  (*metrics)["distinct_2"] = q.distinct_2;
  (*metrics)["unique_responses"] = q.unique_responses;
  if (q.kl.has_value()) (*metrics)["kl"] = *q.kl;
  for (const auto& [name, value] : report.stats.losses) (*metrics)["loss/" + name] = value;
  if (report.stats.kl_coef.has_value()) (*metrics)["kl_coef"] = *report.stats.kl_coef;
  (*metrics)["grad_norm"] = report.stats.grad_norm;
  (*metrics)["seconds/generate"] = report.wall.generate;
  (*metrics)["seconds/score"] = report.wall.score;
  (*metrics)["seconds/reference"] = report.wall.reference;
  (*metrics)["seconds/train"] = report.wall.train;
  (*metrics)["seconds/publish"] = report.wall.publish;
  const double seconds = report.wall.generate + std::max(report.wall.score, report.wall.reference) +
                         report.wall.train + report.wall.publish;
  (*metrics)["seconds/round"] = seconds;
  if (seconds > 0) {
    double tokens = 0;
    for (const generator::RolloutResult& r : report.rollouts) tokens += r.response_ids.size();
    (*metrics)["tokens_per_second"] = tokens / seconds;
  }
  (*metrics)["lost_generators"] = static_cast<double>(report.lost_generators.size());
  (*metrics)["dropped_stale_rollouts"] = static_cast<double>(report.dropped_stale);
  (*metrics)["policy_versions_behind"] = VersionsBehind(report);
}

// The clients of one round on `endpoints`: the generators as they are (common/rounds moves a
// failed replica's share itself), the scorer and the reference under the stage's retry policy,
// and `learner` (not owned).
class RoundWorkers {
 public:
  static absl::StatusOr<std::unique_ptr<RoundWorkers>> Make(ClientFactory& factory,
                                                            const JobResources& endpoints,
                                                            const RetryPlan& retry,
                                                            clients::LearnerClient* learner) {
    auto workers = std::unique_ptr<RoundWorkers>(new RoundWorkers());
    for (const std::string& endpoint : endpoints.generators) {
      ASSIGN_OR_RETURN(clients::GeneratorClient * g, factory.Generator(endpoint));
      workers->generators_.push_back(g);
    }
    ASSIGN_OR_RETURN(clients::ScorerClient * scorer, factory.Scorer(endpoints.scorer));
    ASSIGN_OR_RETURN(clients::ReferenceClient * reference, factory.Reference(endpoints.reference));
    workers->scorer_ = std::make_unique<RetryingScorerClient>(scorer, retry);
    workers->reference_ = std::make_unique<RetryingReferenceClient>(reference, retry);
    workers->learner_ = learner;
    return workers;
  }
  rounds::RoundClients clients() const {
    return {generators_, scorer_.get(), reference_.get(), learner_};
  }

 private:
  RoundWorkers() = default;
  std::vector<clients::GeneratorClient*> generators_;
  std::unique_ptr<RetryingScorerClient> scorer_;
  std::unique_ptr<RetryingReferenceClient> reference_;
  clients::LearnerClient* learner_ = nullptr;
};

}  // namespace

JobRunner::JobRunner(RunnerEnv env, std::string job_id, JobPlan plan, JobResources resources)
    : env_(env),
      job_id_(std::move(job_id)),
      plan_(std::move(plan)),
      resources_(std::move(resources)) {}

void JobRunner::Cancel() {
  cancelled_ = true;
  cancellation_->Cancel();
}

void JobRunner::Stop() {
  stopped_ = true;
  cancellation_->Cancel();
}

clients::CallOptions JobRunner::Call() const {
  return {.timeout = plan_.stages[stage_index_].scheduling.rpc_timeout,
          .cancellation = cancellation_};
}

absl::Status JobRunner::Record(int type, const std::string& message, JobUpdate update) {
  update.event.type = type;
  update.event.message = message;
  update.event.iteration = iteration_;
  update.event.stage_index = stage_index_;
  update.event.stage_name = plan_.stages[stage_index_].name;
  absl::StatusOr<EventRecord> stored =
      env_.store->UpdateJob(job_id_, [&](const JobRecord& current) -> absl::StatusOr<JobUpdate> {
        JobUpdate out = update;
        JobStatusRecord status = out.status.has_value() ? *out.status : current.status;
        if (!out.status.has_value()) {
          status.stage_index = stage_index_;
          status.stage_name = plan_.stages[stage_index_].name;
          status.iteration = iteration_;
          status.retries = retries_;
        }
        out.status = status;
        return out;
      });
  return stored.status();
}

RunEnd JobRunner::Run() {
  auto fail = [&](const absl::Status& status) {
    if (stopped_.load()) return RunEnd::kInterrupted;
    const bool cancelled = cancelled_.load();
    JobUpdate update;
    absl::StatusOr<JobRecord> job = env_.store->GetJob(job_id_, false);
    JobStatusRecord next = job.ok() ? job->status : JobStatusRecord();
    next.state = cancelled ? JobState::kCancelled : JobState::kFailed;
    next.cancel_requested = false;
    next.end_time = absl::Now();
    if (!cancelled) {
      next.last_error = std::string(status.message());
      next.last_error_code = static_cast<int32_t>(status.code());
      update.event.error_code = next.last_error_code;
    }
    update.status = next;
    (void)Record(kStateChanged,
                 cancelled ? "cancelled" : absl::StrCat("failed: ", status.message()),
                 std::move(update));
    return cancelled ? RunEnd::kCancelled : RunEnd::kFailed;
  };

  // A failure that is not the spec's fault restarts the job from its last completed round, up
  // to max_retries times (RayJob's backoffLimit).
  for (int attempt = 0;; ++attempt) {
    const absl::Status status = RunStages();
    if (status.ok()) break;
    if (stopping() || !Retryable(status) || attempt >= plan_.max_retries) return fail(status);
    // Exponential back-off from the failed stage's retry policy, cut short by a cancel.
    const RetryPlan& backoff = plan_.stages[stage_index_].scheduling.retry;
    absl::Duration wait = backoff.initial_backoff;
    for (int i = 0; i < attempt; ++i) wait = wait * backoff.backoff_multiplier;
    wait = std::min(wait, backoff.max_backoff);
    for (const absl::Time until = absl::Now() + wait; absl::Now() < until && !stopping();) {
      absl::SleepFor(std::min(env_.pause_poll, until - absl::Now()));
    }
    if (stopping()) return fail(absl::CancelledError("cancelled"));
    ++retries_;
    if (env_.metrics != nullptr) env_.metrics->RoundRetried();
    JobUpdate retry;
    retry.event.error_code = static_cast<int32_t>(status.code());
    if (absl::Status recorded =
            Record(kRetry,
                   absl::StrCat("restarting the job from its last completed round (restart ",
                                attempt + 1, " of ", plan_.max_retries, "): ", status.message()),
                   std::move(retry));
        !recorded.ok()) {
      return fail(recorded);
    }
  }
  JobUpdate done;
  absl::StatusOr<JobRecord> job = env_.store->GetJob(job_id_, false);
  if (!job.ok()) return fail(job.status());
  JobStatusRecord next = job->status;
  next.state = JobState::kSucceeded;
  next.progress = 1;
  next.end_time = absl::Now();
  next.policy_version = policy_version_;
  done.status = next;
  if (absl::Status status = Record(kStateChanged, "succeeded", std::move(done)); !status.ok()) {
    return fail(status);
  }
  return RunEnd::kSucceeded;
}

absl::Status JobRunner::RunStages() {
  ASSIGN_OR_RETURN(std::optional<RoundRecord> last, env_.store->LastCompletedRound(job_id_));
  ASSIGN_OR_RETURN(std::vector<StageRecord> stages, env_.store->Stages(job_id_));
  for (int iteration = 0; iteration < plan_.iterations; ++iteration) {
    for (int s = 0; s < static_cast<int>(plan_.stages.size()); ++s) {
      iteration_ = iteration;
      stage_index_ = s;
      const auto finished = std::find_if(stages.begin(), stages.end(), [&](const StageRecord& r) {
        return r.iteration == iteration && r.stage_index == s && r.end_time != absl::InfinitePast();
      });
      if (finished != stages.end()) {
        previous_output_ = finished->output_checkpoint;
        continue;
      }
      int first_round = 0;
      if (last.has_value() && last->iteration == iteration && last->stage_index == s) {
        first_round = last->round + 1;
      }
      RETURN_IF_ERROR(RunStage(iteration, s, first_round));
      if (stopping()) return absl::CancelledError("stopped");
    }
  }
  return absl::OkStatus();
}

absl::Status JobRunner::RunStage(int iteration, int stage_index, int first_round) {
  const StagePlan& stage = plan_.stages[stage_index];
  if (!IsOnline(stage.kind)) {
    return absl::UnimplementedError(
        absl::StrCat("stages[", stage_index, "]: only ONLINE_RL stages run on this coordinator"));
  }
  return RunOnlineRlStage(iteration, stage_index, first_round);
}

absl::StatusOr<rounds::GeneratedRound> JobRunner::GenerateAhead(const JobResources& endpoints,
                                                                rounds::RoundSpec spec,
                                                                RetryPlan retry) {
  // Its own clients: the round loop's live only for one round.
  ASSIGN_OR_RETURN(clients::LearnerClient * learner, env_.clients->Learner(endpoints.learner));
  ASSIGN_OR_RETURN(std::unique_ptr<RoundWorkers> workers,
                   RoundWorkers::Make(*env_.clients, endpoints, retry, learner));
  return rounds::GeneratePolicyGradientRound(workers->clients(), spec);
}

absl::Status JobRunner::WaitForRole(WorkerRole role, std::string* endpoint) {
  bool announced = false;
  while (!stopping()) {
    for (const Worker& worker : env_.pool->Healthy(role)) {
      if (endpoint != nullptr) *endpoint = worker.endpoint;
      if (announced) {
        JobUpdate update;
        update.event.worker_id = worker.worker_id;
        RETURN_IF_ERROR(Record(
            kLog,
            absl::StrCat("resumed: ", WorkerRoleName(role), " ", worker.endpoint, " is healthy"),
            std::move(update)));
      }
      return absl::OkStatus();
    }
    if (!announced) {
      announced = true;
      RETURN_IF_ERROR(Record(kWorkerLost,
                             absl::StrCat("paused: no healthy ", WorkerRoleName(role),
                                          "; waiting for one to register or recover"),
                             JobUpdate()));
    }
    absl::SleepFor(env_.pause_poll);
  }
  return absl::CancelledError("the job was cancelled or the coordinator is stopping");
}

absl::Status JobRunner::RunOnlineRlStage(int iteration, int stage_index, int first_round) {
  const StagePlan& stage = plan_.stages[stage_index];
  const SchedulingPlan& scheduling = stage.scheduling;
  ASSIGN_OR_RETURN(PromptSource prompts, PromptSource::Load(stage.prompt_data));
  const std::string output =
      stage.models.output_checkpoint.empty()
          ? ChildPath(plan_.output_dir,
                      absl::StrCat(stage.name,
                                   plan_.iterations > 1 ? absl::StrCat("/iter-", iteration) : ""))
          : stage.models.output_checkpoint;
  // The stage's stored record, or a new one starting now.
  auto stage_record = [&]() -> absl::StatusOr<StageRecord> {
    ASSIGN_OR_RETURN(std::vector<StageRecord> records, env_.store->Stages(job_id_));
    for (const StageRecord& r : records) {
      if (r.iteration == iteration && r.stage_index == stage_index) return r;
    }
    return StageRecord{.job_id = job_id_,
                       .stage_index = stage_index,
                       .iteration = iteration,
                       .name = stage.name,
                       .start_time = absl::Now(),
                       .output_checkpoint = output};
  };
  // Has the learner save the session's checkpoint at `path` and records it as the one after
  // `round`.
  auto save_checkpoint = [&](clients::LearnerClient* learner, const std::string& session,
                             const std::string& path, int round) -> absl::Status {
    absl::StatusOr<learner::CheckpointInfo> saved =
        learner->SaveCheckpoint(session, path, false, true, Call());
    if (!saved.ok()) {
      return absl::Status(saved.status().code(),
                          absl::StrCat("checkpoint ", path, ": ", saved.status().message()));
    }
    JobUpdate checkpoint;
    checkpoint.event.round = round;
    checkpoint.checkpoint = CheckpointRecord{.job_id = job_id_,
                                             .stage_index = stage_index,
                                             .iteration = iteration,
                                             .round = round,
                                             .path = path};
    return Record(kCheckpointSaved, path, std::move(checkpoint));
  };
  if (first_round == 0) {
    JobUpdate update;
    ASSIGN_OR_RETURN(update.stage, stage_record());
    RETURN_IF_ERROR(
        Record(kStageStarted, absl::StrCat("stage ", stage.name, " started"), std::move(update)));
  }
  std::string initial = stage.models.policy_checkpoint;
  if (initial.empty())
    initial = previous_output_.empty() ? plan_.base_checkpoint : previous_output_;
  int64_t units_before = 0;
  int64_t units_total = 0;
  for (int it = 0; it < plan_.iterations; ++it) {
    for (int s = 0; s < static_cast<int>(plan_.stages.size()); ++s) {
      const int64_t units = StageUnits(plan_.stages[s]);
      units_total += units;
      if (it < iteration || (it == iteration && s < stage_index)) units_before += units;
    }
  }
  const uint64_t seed = plan_.seed ^ (0x9E3779B97F4A7C15ULL * (iteration * 64 + stage_index + 1));
  std::optional<PromptSource> held_out;
  if (!stage.evaluation.prompt_data.empty()) {
    ASSIGN_OR_RETURN(held_out, PromptSource::Load(stage.evaluation.prompt_data));
  }
  absl::Time job_start = absl::Now();
  if (absl::StatusOr<JobRecord> job = env_.store->GetJob(job_id_, false);
      job.ok() && job->status.start_time != absl::InfinitePast()) {
    job_start = job->status.start_time;
  }
  // The held-out evaluation after `round`: the same prompts and seed every time, so that
  // evaluations of one stage compare.
  auto evaluate = [&](int round, clients::LearnerClient* learner,
                      const std::string& session) -> absl::Status {
    ASSIGN_OR_RETURN(std::unique_ptr<RoundWorkers> workers,
                     RoundWorkers::Make(*env_.clients, resources_, scheduling.retry, learner));
    rounds::RoundSpec spec;
    spec.round_id = absl::StrCat(job_id_, "/i", iteration, "/s", stage_index, "/eval", round);
    spec.session_id = session;  // not trained: the round functions ask for one all the same
    spec.prompts = held_out->Round(
        seed, 0, std::min<int64_t>(stage.evaluation.max_prompts, held_out->size()), spec.round_id);
    spec.sampling = stage.evaluation.sampling;
    spec.sampling.seed = seed | 1;
    spec.score_objectives = stage.scoring.objectives;
    spec.call_timeout = scheduling.rpc_timeout;
    spec.cancellation = cancellation_;
    ASSIGN_OR_RETURN(rounds::RoundReport report,
                     rounds::RunEvaluationRound(workers->clients(), spec));
    MetricMap figures;
    AddRoundMetrics(report, &figures);
    JobUpdate update;
    update.event.round = round;
    for (const char* name :
         {"rollouts", "reward_mean", "reward_std", "response_tokens_mean", "truncated_fraction",
          "distinct_1", "distinct_2", "unique_responses", "kl"}) {
      if (figures.contains(name)) update.event.metrics[absl::StrCat("eval/", name)] = figures[name];
    }
    return Record(kEvaluation, absl::StrCat("evaluation after round ", round), std::move(update));
  };
  // The spec of round `r` (prompts, seeds and Train sequence are functions of the round, so a
  // round run again, or generated ahead, is the same round).
  int64_t session_first_round = 0;
  auto spec_of = [&](int r, const std::string& session) {
    rounds::RoundSpec spec;
    spec.round_id = absl::StrCat(job_id_, "/i", iteration, "/s", stage_index, "/r", r);
    spec.session_id = session;
    spec.prompts = prompts.Round(seed, r, scheduling.prompts_per_round, spec.round_id);
    spec.sampling = stage.sampling;
    spec.sampling.seed = (seed + static_cast<uint64_t>(r) * 7919) | 1;
    spec.score_objectives = stage.scoring.objectives;
    spec.sequence = static_cast<uint64_t>(r - session_first_round) + 1;
    if ((r + 1) % std::max(1, scheduling.publish_every_rounds) != 0 && r + 1 < stage.rounds) {
      spec.publish_to = std::vector<clients::PublishTarget>();
    }
    spec.allow_downgrade = true;
    spec.call_timeout = scheduling.rpc_timeout;
    spec.cancellation = cancellation_;
    return spec;
  };
  // Asynchronous rounds: the generation running ahead, and the versions published so far.
  std::future<absl::StatusOr<rounds::GeneratedRound>> ahead;
  int ahead_round = -1;
  std::vector<uint64_t> published_versions;
  int restarts = 0;
  int round = first_round;
  std::string session_id;
  while (true) {  // one pass per learner session (a lost learner restarts the session)
    if (stopping()) return absl::CancelledError("cancelled");
    ASSIGN_OR_RETURN(clients::LearnerClient * raw_learner,
                     env_.clients->Learner(resources_.learner));
    RetryingLearnerClient retrying_learner(raw_learner, scheduling.retry);
    clients::LearnerClient* learner = &retrying_learner;
    // Where a fresh session starts: the stage's latest checkpoint, or its initial policy.
    std::string start_from = initial;
    int checkpoint_round = -1;
    ASSIGN_OR_RETURN(std::optional<CheckpointRecord> latest, env_.store->LatestCheckpoint(job_id_));
    if (latest.has_value() && latest->iteration == iteration &&
        latest->stage_index == stage_index) {
      start_from = latest->path;
      checkpoint_round = latest->round;
    }
    clients::StartSessionCall start;
    start.options = *stage.training;
    start.options.policy_path = start_from;
    start.options.value_path = stage.models.value_checkpoint;
    start.session_key = absl::StrCat(job_id_, "/", iteration, "/", stage_index);
    start.replace_active = true;
    absl::StatusOr<learner::SessionStatus> session = learner->StartSession(start, Call());
    if (!session.ok()) {
      if (stopping()) return absl::CancelledError("cancelled");
      if (!WorkerUnreachable(session.status())) {
        return absl::Status(session.status().code(),
                            absl::StrCat("learner ", resources_.learner,
                                         ": StartSession: ", session.status().message()));
      }
      env_.pool->ReportUnreachable(absl::StrCat("learner@", resources_.learner));
      RETURN_IF_ERROR(WaitForRole(WorkerRole::kLearner, &resources_.learner));
      continue;
    }
    session_id = session->id;
    // StartSession's answer does not say whether the learner kept our session; its status does.
    uint64_t train_calls = session->train_calls;
    if (absl::StatusOr<clients::LearnerStatus> status = learner->GetStatus(Call());
        status.ok() && status->session.has_value() && status->session->id == session->id) {
      train_calls = status->session->train_calls;
    }
    if (train_calls == 0 && round > checkpoint_round + 1) {
      // A new session (the learner lost ours): the rounds after the checkpoint run again.
      JobUpdate update;
      RETURN_IF_ERROR(Record(kLog,
                             absl::StrCat("the learner has no session for this stage; resuming "
                                          "from round ",
                                          checkpoint_round + 1, " (", start_from, ")"),
                             std::move(update)));
      round = checkpoint_round + 1;
    }
    // Train sequence numbers count from 1 in each learner session: the round a session started
    // at is kept in the stage's record, so that a kept session is continued with its numbering.
    session_first_round = 0;
    ASSIGN_OR_RETURN(StageRecord record, stage_record());
    if (train_calls == 0) {
      session_first_round = round;
      record.metrics[kSessionFirstRound] = static_cast<double>(round);
      JobUpdate update;
      update.stage = record;
      RETURN_IF_ERROR(Record(kLog,
                             absl::StrCat("learner session ", session->id, " starts at round ",
                                          round, " from ", start_from),
                             std::move(update)));
    } else if (auto it = record.metrics.find(kSessionFirstRound); it != record.metrics.end()) {
      session_first_round = static_cast<int64_t>(it->second);
    }
    bool restart_session = false;
    for (; round < stage.rounds && !restart_session; ++round) {
      if (stopping()) return absl::CancelledError("cancelled");
      if (plan_.deadline != absl::InfiniteDuration() && absl::Now() - job_start > plan_.deadline) {
        return absl::DeadlineExceededError(absl::StrCat("the job's deadline (",
                                                        absl::FormatDuration(plan_.deadline),
                                                        " from its start) passed"));
      }
      ASSIGN_OR_RETURN(std::unique_ptr<RoundWorkers> workers,
                       RoundWorkers::Make(*env_.clients, resources_, scheduling.retry, learner));
      const rounds::RoundSpec spec = spec_of(round, session->id);
      const rounds::RoundClients round_clients = workers->clients();
      absl::StatusOr<rounds::RoundReport> report = absl::UnknownError("not run");
      if (scheduling.round_mode == RoundMode::kAsync) {
        // Round n + 1 generates (on the weights the generators hold) while round n trains.
        absl::StatusOr<rounds::GeneratedRound> generated = absl::UnknownError("not generated");
        if (ahead.valid() && ahead_round == round) {
          generated = ahead.get();
        } else {
          // A round run again: the round ahead of it stays; any other is no longer wanted.
          if (ahead.valid() && ahead_round != round + 1) (void)ahead.get();
          generated = rounds::GeneratePolicyGradientRound(round_clients, spec);
        }
        const bool next_ahead = ahead.valid() && ahead_round == round + 1;
        if (generated.ok() && round + 1 < stage.rounds && !next_ahead) {
          ahead_round = round + 1;
          ahead = std::async(
              std::launch::async,
              [this, next = spec_of(round + 1, session->id), endpoints = resources_,
               retry = scheduling.retry] { return GenerateAhead(endpoints, next, retry); });
        }
        // Rollouts sampled by weights more than max_policy_lag publishes old are dropped.
        uint64_t min_version = 0;
        const size_t lag = static_cast<size_t>(scheduling.max_policy_lag);
        if (published_versions.size() > lag) {
          min_version = published_versions[published_versions.size() - 1 - lag];
        }
        report = generated.ok() ? rounds::TrainPolicyGradientRound(
                                      round_clients, spec, *std::move(generated), min_version)
                                : absl::StatusOr<rounds::RoundReport>(generated.status());
      } else {
        report = rounds::RunPolicyGradientRound(round_clients, spec);
      }
      if (!report.ok()) {
        if (stopping()) return absl::CancelledError("cancelled");
        const absl::Status& error = report.status();
        const absl::string_view message = error.message();
        ++retries_;
        if (env_.metrics != nullptr) env_.metrics->RoundRetried();
        JobUpdate retry;
        retry.event.round = round;
        retry.event.error_code = static_cast<int32_t>(error.code());
        RETURN_IF_ERROR(Record(kRetry, absl::StrCat("round ", round, ": ", message), retry));
        if (WorkerUnreachable(error)) {
          if (absl::StartsWith(message, "generate:")) {
            for (const std::string& g : resources_.generators) {
              env_.pool->ReportUnreachable(absl::StrCat("generator@", g));
            }
            std::string replacement;
            RETURN_IF_ERROR(WaitForRole(WorkerRole::kGenerator, &replacement));
            resources_.generators = {replacement};
          } else if (absl::StartsWith(message, "score:")) {
            env_.pool->ReportUnreachable(absl::StrCat("scorer@", resources_.scorer));
            RETURN_IF_ERROR(WaitForRole(WorkerRole::kScorer, &resources_.scorer));
          } else if (absl::StartsWith(message, "reference:")) {
            env_.pool->ReportUnreachable(absl::StrCat("reference@", resources_.reference));
            RETURN_IF_ERROR(WaitForRole(WorkerRole::kReference, &resources_.reference));
          } else {  // train or publish: the learner
            env_.pool->ReportUnreachable(absl::StrCat("learner@", resources_.learner));
            RETURN_IF_ERROR(WaitForRole(WorkerRole::kLearner, &resources_.learner));
            restart_session = true;
          }
          --round;  // the same round again
          continue;
        }
        if (absl::StartsWith(message, "train:") || absl::StartsWith(message, "publish:")) {
          // A learner that restarted between two calls answers for a session it never had;
          // its status tells: then the session starts again from the last checkpoint.
          absl::StatusOr<clients::LearnerStatus> status = learner->GetStatus(Call());
          if (status.ok() && (!status->session.has_value() || status->session->id != session->id)) {
            restart_session = true;
            --round;
            continue;
          }
        }
        // The spec's or the data's fault (a bad value, a refused option): running the round
        // again cannot help.
        if (!Retryable(error) || ++restarts > scheduling.retry.max_round_restarts) {
          return absl::Status(error.code(), absl::StrCat("round ", round, ": ", message));
        }
        --round;
        continue;
      }
      restarts = 0;
      if (env_.metrics != nullptr) {
        env_.metrics->RoundCompleted(
            {.seconds = report->wall.generate +
                        std::max(report->wall.score, report->wall.reference) + report->wall.train +
                        report->wall.publish,
             .generate = report->wall.generate,
             .score = report->wall.score,
             .reference = report->wall.reference,
             .train = report->wall.train,
             .publish = report->wall.publish,
             .rollouts = static_cast<double>(report->quality.rollouts),
             .lost_generators = static_cast<double>(report->lost_generators.size()),
             .dropped_stale = static_cast<double>(report->dropped_stale),
             .version_behind = VersionsBehind(*report)});
      }
      for (const std::string& lost : report->lost_generators) {
        env_.pool->ReportUnreachable(absl::StrCat("generator@", lost));
        resources_.generators.erase(
            std::remove(resources_.generators.begin(), resources_.generators.end(), lost),
            resources_.generators.end());
      }
      if (resources_.generators.empty()) {
        std::string replacement;
        RETURN_IF_ERROR(WaitForRole(WorkerRole::kGenerator, &replacement));
        resources_.generators = {replacement};
      }
      policy_version_ = report->stats.policy_version;
      if (report->published.has_value()) published_versions.push_back(report->published->version);
      RoundRecord record{.job_id = job_id_,
                         .stage_index = stage_index,
                         .iteration = iteration,
                         .round = round,
                         .policy_version = policy_version_};
      AddRoundMetrics(*report, &record.metrics);
      if (report->published.has_value()) {
        record.metrics["publish/version"] = static_cast<double>(report->published->version);
        record.metrics["publish/failed_targets"] = report->published->failed_targets;
      }
      ASSIGN_OR_RETURN(JobRecord job, env_.store->GetJob(job_id_, false));
      JobUpdate update;
      update.event.round = round;
      update.event.metrics = record.metrics;
      JobStatusRecord status = job.status;
      status.stage_index = stage_index;
      status.stage_name = stage.name;
      status.iteration = iteration;
      status.round = round;
      status.metrics = record.metrics;
      status.policy_version = policy_version_;
      status.retries = retries_;
      status.progress = static_cast<double>(units_before + round + 1) /
                        static_cast<double>(std::max<int64_t>(1, units_total));
      update.status = status;
      update.round = record;
      absl::Status recorded =
          Record(kRoundFinished, absl::StrCat("round ", round, " finished"), update);
      if (absl::IsAlreadyExists(recorded)) {  // a round redone after the learner lost its session
        update.round.reset();
        recorded = Record(kRoundFinished, absl::StrCat("round ", round, " finished again"), update);
      }
      RETURN_IF_ERROR(recorded);
      const int every = stage.evaluation.every;
      if (held_out.has_value() &&
          ((every > 0 && (round + 1) % every == 0) || round + 1 == stage.rounds)) {
        if (absl::Status evaluated = evaluate(round, learner, session->id); !evaluated.ok()) {
          if (stopping()) return absl::CancelledError("cancelled");
          JobUpdate note;
          note.event.round = round;
          RETURN_IF_ERROR(Record(
              kLog,
              absl::StrCat("evaluation after round ", round, " failed: ", evaluated.message()),
              std::move(note)));
        }
      }
      const bool checkpoint_now = scheduling.checkpoint_every > 0 &&
                                  (round + 1) % scheduling.checkpoint_every == 0 &&
                                  round + 1 < stage.rounds;
      if (checkpoint_now) {
        // Beside the final checkpoint (which replaces only a folder that is a checkpoint).
        RETURN_IF_ERROR(
            save_checkpoint(learner, session->id, absl::StrCat(output, ".round-", round), round));
      }
    }
    if (restart_session) continue;
    break;
  }
  // Stage end: the final checkpoint, the session closed, the stage recorded as finished.
  ASSIGN_OR_RETURN(clients::LearnerClient * raw_learner, env_.clients->Learner(resources_.learner));
  RetryingLearnerClient retrying_learner(raw_learner, scheduling.retry);
  clients::LearnerClient* learner = &retrying_learner;
  RETURN_IF_ERROR(save_checkpoint(learner, session_id, output, stage.rounds - 1));
  (void)learner->EndSession(session_id, Call());
  ASSIGN_OR_RETURN(StageRecord record, stage_record());
  record.end_time = absl::Now();
  JobUpdate finished;
  finished.stage = record;
  RETURN_IF_ERROR(
      Record(kStageFinished, absl::StrCat("stage ", stage.name, " finished"), std::move(finished)));
  previous_output_ = output;
  return absl::OkStatus();
}

}  // namespace plumb::coordinator
