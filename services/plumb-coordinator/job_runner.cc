#include "services/plumb-coordinator/job_runner.h"

#include <algorithm>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/api/learner_algorithm_kind.h"
#include "common/rounds/rounds.h"
#include "common/status/status_macros.h"
#include "services/plumb-coordinator/offline_data.h"
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
  kWeightsPublished = 7,
  kCheckpointSaved = 8,
  kEvaluation = 9,
  kRetry = 10,
  kWorkerLost = 11,
  kLog = 12,
};

// The stage record's metric holding the round the current learner session started at.
constexpr char kSessionFirstRound[] = "session_first_round";

// Offline stages train on train_data; a REWARD_MODEL stage without it samples and judges pairs.
bool TrainsOnData(const StagePlan& stage) {
  return IsOfflineStage(stage.kind) && !stage.train_data.empty();
}

// Rounds (online training stages) or 1 (offline and evaluation stages) per stage, for progress.
int64_t StageUnits(const StagePlan& stage) {
  return TrainsOnData(stage) || stage.kind == StageKind::kEvaluation ? 1 : stage.rounds;
}

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
  // The algorithm's own figures ("rs/selected_reward_mean", "dpo/margin", "ppo/approx_kl", ...).
  for (const auto& [name, value] : report.stats.metrics) (*metrics)[name] = value;
  if (!report.pairs.empty()) (*metrics)["pairs"] = static_cast<double>(report.pairs.size());
  if (report.resampled > 0) (*metrics)["resampled"] = report.resampled;
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

// Samples shown per evaluation, and the bytes kept of each text (an event's message holds 4 KiB).
constexpr size_t kEvaluationSamples = 6;
constexpr size_t kSampleBytes = 200;

std::string Clip(const std::string& text) {
  if (text.size() <= kSampleBytes) return text;
  size_t end = kSampleBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return text.substr(0, end) + "...";
}

// The figures of one offline Train call.
void AddOfflineMetrics(const rounds::RoundReport& report, const OfflineBatch& batch,
                       MetricMap* metrics) {
  (*metrics)["examples"] = static_cast<double>(batch.examples);
  (*metrics)["data/prompts_cut"] = static_cast<double>(batch.prompts_cut);
  (*metrics)["data/responses_cut"] = static_cast<double>(batch.responses_cut);
  for (const auto& [name, value] : report.stats.losses) (*metrics)["loss/" + name] = value;
  for (const auto& [name, value] : report.stats.metrics) (*metrics)[name] = value;
  if (report.stats.kl.has_value()) (*metrics)["kl"] = *report.stats.kl;
  (*metrics)["grad_norm"] = report.stats.grad_norm;
  (*metrics)["learning_rate"] = report.stats.learning_rate;
  (*metrics)["tokens"] = static_cast<double>(report.stats.tokens);
  (*metrics)["sequences"] = static_cast<double>(report.stats.sequences);
  (*metrics)["seconds/reference"] = report.wall.reference;
  (*metrics)["seconds/train"] = report.wall.train;
  const double seconds = report.wall.reference + report.wall.train;
  (*metrics)["seconds/round"] = seconds;
  if (seconds > 0) {
    (*metrics)["tokens_per_second"] = static_cast<double>(report.stats.tokens) / seconds;
  }
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
  if (stage.kind == StageKind::kEvaluation) return RunEvaluationStage(iteration, stage_index);
  return RunTrainingStage(iteration, stage_index, first_round);
}

std::string JobRunner::StageOutput(int iteration, int stage_index) const {
  const StagePlan& stage = plan_.stages[stage_index];
  if (!stage.models.output_checkpoint.empty()) return stage.models.output_checkpoint;
  return ChildPath(
      plan_.output_dir,
      absl::StrCat(stage.name, plan_.iterations > 1 ? absl::StrCat("/iter-", iteration) : ""));
}

std::string JobRunner::InitialPolicy(const StagePlan& stage) const {
  if (!stage.models.policy_checkpoint.empty()) return stage.models.policy_checkpoint;
  return previous_output_.empty() ? plan_.base_checkpoint : previous_output_;
}

absl::StatusOr<StageRecord> JobRunner::StageRecordOf(int iteration, int stage_index) {
  ASSIGN_OR_RETURN(std::vector<StageRecord> records, env_.store->Stages(job_id_));
  for (const StageRecord& r : records) {
    if (r.iteration == iteration && r.stage_index == stage_index) return r;
  }
  return StageRecord{.job_id = job_id_,
                     .stage_index = stage_index,
                     .iteration = iteration,
                     .name = plan_.stages[stage_index].name,
                     .start_time = absl::Now(),
                     .output_checkpoint = StageOutput(iteration, stage_index)};
}

absl::Status JobRunner::Publish(clients::LearnerClient* learner, const std::string& session,
                                std::vector<clients::PublishTarget> targets,
                                const std::string& what) {
  if (targets.empty()) return absl::OkStatus();
  clients::PublishCall call{
      .session_id = session, .targets = std::move(targets), .allow_downgrade = true};
  absl::StatusOr<clients::PublishOutcome> outcome = learner->PublishWeights(call, Call());
  if (!outcome.ok()) {
    return absl::Status(outcome.status().code(),
                        absl::StrCat("publish: ", what, ": ", outcome.status().message()));
  }
  for (const clients::PublishTargetOutcome& r : outcome->results) {
    if (!r.status.ok() && !absl::IsAlreadyExists(r.status)) {
      return absl::Status(
          r.status.code(),
          absl::StrCat("publish: ", what, " to ", r.target.endpoint, ": ", r.status.message()));
    }
  }
  policy_version_ = std::max(policy_version_, outcome->version);
  JobUpdate update;
  RETURN_IF_ERROR(Record(kWeightsPublished,
                         absl::StrCat(what, ": version ", outcome->version, " to ",
                                      outcome->results.size(), " target(s)"),
                         std::move(update)));
  return absl::OkStatus();
}

absl::Status JobRunner::PublishCheckpoint(const StagePlan& stage, const std::string& path,
                                          std::vector<clients::PublishTarget> targets,
                                          const std::string& what) {
  ASSIGN_OR_RETURN(clients::LearnerClient * raw, env_.clients->Learner(resources_.learner));
  RetryingLearnerClient learner(raw, stage.scheduling.retry);
  clients::StartSessionCall start;
  start.options = stage.training.has_value()
                      ? *stage.training
                      : learner::SessionOptions::Defaults(learner::Algorithm::kSft);
  start.options.policy_path = path;
  start.options.value_path.clear();
  start.session_key = absl::StrCat(job_id_, "/", iteration_, "/", stage_index_, "/", what);
  start.replace_active = true;
  absl::StatusOr<learner::SessionStatus> session = learner.StartSession(start, Call());
  if (!session.ok()) {
    return absl::Status(session.status().code(),
                        absl::StrCat("learner: StartSession for ", what, " (", path,
                                     "): ", session.status().message()));
  }
  absl::Status published = Publish(&learner, session->id, std::move(targets), what);
  (void)learner.EndSession(session->id, Call());
  return published;
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

absl::Status JobRunner::RunTrainingStage(int iteration, int stage_index, int first_round) {
  const StagePlan& stage = plan_.stages[stage_index];
  const SchedulingPlan& scheduling = stage.scheduling;
  const bool offline = TrainsOnData(stage);
  // A reward model learns from samples of the stage's initial policy, and is not published to
  // the generators.
  const bool judged_rm = stage.kind == StageKind::kRewardModel && !offline;
  ASSIGN_OR_RETURN(const learner::LearnerAlgorithmKind* algorithm,
                   learner::LearnerAlgorithmOf(stage.training->algorithm));
  const bool needs_reference = algorithm->NeedsReference(*stage.training);
  const uint64_t seed = plan_.seed ^ (0x9E3779B97F4A7C15ULL * (iteration * 64 + stage_index + 1));
  // Online stages draw prompts; offline stages read their examples and count their steps.
  std::optional<PromptSource> prompts;
  std::unique_ptr<OfflineData> data;
  int64_t steps = stage.rounds;
  if (offline) {
    ASSIGN_OR_RETURN(std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                     LoadPlanTokenizer(plan_.tokenization));
    absl::StatusOr<std::unique_ptr<OfflineData>> loaded =
        OfflineData::Load(stage.train_data, std::move(tokenizer), plan_.tokenization);
    if (!loaded.ok()) {
      return absl::Status(
          loaded.status().code(),
          absl::StrCat("stages[", stage_index, "].train_data: ", loaded.status().message()));
    }
    data = *std::move(loaded);
    steps = data->StepsPerEpoch(scheduling.train_batch_size) * stage.epochs;
    if (stage.max_train_steps > 0) steps = std::min(steps, stage.max_train_steps);
  } else {
    ASSIGN_OR_RETURN(prompts, PromptSource::Load(stage.prompt_data));
  }
  const std::string output = StageOutput(iteration, stage_index);
  // Has the learner save the session's checkpoint at `path` and records it as the one after
  // `round`.
  auto save_checkpoint = [&](clients::LearnerClient* learner, const std::string& session,
                             const std::string& path, int64_t round) -> absl::Status {
    absl::StatusOr<learner::CheckpointInfo> saved =
        learner->SaveCheckpoint(session, path, false, true, Call());
    if (!saved.ok()) {
      return absl::Status(saved.status().code(),
                          absl::StrCat("checkpoint ", path, ": ", saved.status().message()));
    }
    JobUpdate checkpoint;
    checkpoint.event.round = static_cast<int32_t>(round);
    checkpoint.checkpoint = CheckpointRecord{.job_id = job_id_,
                                             .stage_index = stage_index,
                                             .iteration = iteration,
                                             .round = static_cast<int32_t>(round),
                                             .path = path};
    return Record(kCheckpointSaved, path, std::move(checkpoint));
  };
  if (first_round == 0) {
    JobUpdate update;
    ASSIGN_OR_RETURN(update.stage, StageRecordOf(iteration, stage_index));
    update.stage->metrics["steps"] = static_cast<double>(steps);
    if (offline) update.stage->metrics["data/examples_per_epoch"] = data->size();
    RETURN_IF_ERROR(Record(kStageStarted,
                           absl::StrCat("stage ", stage.name, " started: ", steps,
                                        offline ? " Train calls" : " rounds"),
                           std::move(update)));
  }
  const std::string initial = InitialPolicy(stage);
  // The reference the stage's KL or DPO terms are taken against (ONLINE_RL with a KL penalty,
  // ONLINE_PREFERENCE, the offline DPO family and KTO).
  const bool uses_reference = needs_reference || stage.kind == StageKind::kOnlinePreference;
  std::vector<clients::PublishTarget> reference_targets;
  if (uses_reference && stage.models.reference != ReferenceChoice::kAsDeployed) {
    reference_targets.push_back({resources_.reference, ""});
  }
  if (first_round == 0 && !reference_targets.empty() &&
      (stage.models.reference == ReferenceChoice::kJobBase ||
       stage.models.reference == ReferenceChoice::kCheckpoint)) {
    RETURN_IF_ERROR(PublishCheckpoint(stage,
                                      stage.models.reference == ReferenceChoice::kJobBase
                                          ? plan_.base_checkpoint
                                          : stage.models.reference_checkpoint,
                                      reference_targets, "reference"));
  }
  if (first_round == 0 && judged_rm) {
    std::vector<clients::PublishTarget> generators;
    for (const std::string& g : resources_.generators) generators.push_back({g, ""});
    RETURN_IF_ERROR(PublishCheckpoint(stage, initial, generators, "policy to sample pairs from"));
  }
  int64_t units_before = 0;
  int64_t units_total = 0;
  for (int it = 0; it < plan_.iterations; ++it) {
    for (int s = 0; s < static_cast<int>(plan_.stages.size()); ++s) {
      const int64_t units = StageUnits(plan_.stages[s]);
      units_total += units;
      if (it < iteration || (it == iteration && s < stage_index)) units_before += units;
    }
  }
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
  // evaluations of one stage compare. An offline stage first publishes its policy to the
  // generators (its steps publish nothing).
  auto evaluate = [&](int64_t round, clients::LearnerClient* learner,
                      const std::string& session) -> absl::Status {
    if (offline) {
      std::vector<clients::PublishTarget> generators;
      for (const std::string& g : resources_.generators) generators.push_back({g, ""});
      RETURN_IF_ERROR(Publish(learner, session, std::move(generators), "policy for evaluation"));
    }
    return Evaluate(
        {.prompts = &*held_out,
         .max_prompts = stage.evaluation.max_prompts,
         .sampling = stage.evaluation.sampling,
         .objectives = stage.evaluation.objectives.empty() ? stage.scoring.objectives
                                                           : stage.evaluation.objectives,
         .seed = seed},
        round, learner, session, /*stage_result=*/round + 1 == steps);
  };
  // The spec of round `r` (prompts, seeds and Train sequence are functions of the round, so a
  // round run again, or generated ahead, is the same round).
  int64_t session_first_round = 0;
  auto spec_of = [&](int r, const std::string& session) {
    rounds::RoundSpec spec;
    spec.round_id = absl::StrCat(job_id_, "/i", iteration, "/s", stage_index, "/r", r);
    spec.session_id = session;
    if (prompts.has_value()) {
      spec.prompts = prompts->Round(seed, r, scheduling.prompts_per_round, spec.round_id);
    }
    spec.sampling = stage.sampling;
    spec.sampling.seed = (seed + static_cast<uint64_t>(r) * 7919) | 1;
    spec.score_objectives = stage.scoring.objectives;
    spec.min_preference_gap = stage.scoring.min_preference_gap;
    spec.sequence = static_cast<uint64_t>(r - session_first_round) + 1;
    if (offline || judged_rm ||
        ((r + 1) % std::max(1, scheduling.publish_every_rounds) != 0 && r + 1 < steps)) {
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
    ASSIGN_OR_RETURN(StageRecord record, StageRecordOf(iteration, stage_index));
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
    if (train_calls == 0) {
      // A fresh session: the generators sample from its policy (they may hold another stage's or
      // a later round's weights), and at the stage's start the reference is the policy as the
      // stage starts (REFERENCE_CHOICE_STAGE_START).
      std::vector<clients::PublishTarget> targets;
      if (!offline && !judged_rm) {
        for (const std::string& g : resources_.generators) targets.push_back({g, ""});
      }
      if (round == 0 && stage.models.reference == ReferenceChoice::kStageStart) {
        targets.insert(targets.end(), reference_targets.begin(), reference_targets.end());
      }
      absl::Status published = Publish(learner, session->id, targets, "stage-start policy");
      if (!published.ok()) {
        if (stopping()) return absl::CancelledError("cancelled");
        return published;
      }
    }
    bool restart_session = false;
    for (; round < steps && !restart_session; ++round) {
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
      std::optional<OfflineBatch> batch_info;
      if (offline) {
        absl::StatusOr<OfflineBatch> batch =
            data->Batch(seed, round, scheduling.train_batch_size, spec.round_id);
        if (!batch.ok()) {
          return absl::Status(batch.status().code(),
                              absl::StrCat("round ", round, ": data: ", batch.status().message()));
        }
        clients::TrainBatch train_batch = std::move(batch->batch);
        batch->batch = clients::TrainBatch();
        batch_info = *std::move(batch);
        report =
            rounds::RunOfflineStep(round_clients, spec, std::move(train_batch), needs_reference);
      } else if (judged_rm) {
        report = rounds::RunJudgedPairsRound(round_clients, spec);
      } else if (stage.kind == StageKind::kRejectionSampling) {
        report = rounds::RunRejectionSamplingRound(round_clients, spec);
      } else if (stage.kind == StageKind::kOnlinePreference) {
        report = rounds::RunDpoRound(round_clients, spec);
      } else if (scheduling.round_mode == RoundMode::kAsync) {
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
        if (generated.ok() && round + 1 < steps && !next_ahead) {
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
      if (batch_info.has_value()) {
        AddOfflineMetrics(*report, *batch_info, &record.metrics);
        record.metrics["data/epoch"] =
            static_cast<double>(round / data->StepsPerEpoch(scheduling.train_batch_size));
        record.metrics["data/next_step"] = static_cast<double>(round + 1);
      } else {
        AddRoundMetrics(*report, &record.metrics);
      }
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
      status.progress = (static_cast<double>(units_before) +
                         static_cast<double>(StageUnits(stage)) * static_cast<double>(round + 1) /
                             static_cast<double>(std::max<int64_t>(1, steps))) /
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
      if (held_out.has_value() && ((every > 0 && (round + 1) % every == 0) || round + 1 == steps)) {
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
                                  round + 1 < steps;
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
  RETURN_IF_ERROR(save_checkpoint(learner, session_id, output, steps - 1));
  // A reward model goes to the scorers as the objective later stages' rewards compose.
  if (!stage.models.publish_as_objective.empty()) {
    RETURN_IF_ERROR(
        Publish(learner, session_id, {{resources_.scorer, stage.models.publish_as_objective}},
                absl::StrCat("reward model as objective ", stage.models.publish_as_objective)));
  }
  (void)learner->EndSession(session_id, Call());
  ASSIGN_OR_RETURN(StageRecord record, StageRecordOf(iteration, stage_index));
  record.end_time = absl::Now();
  JobUpdate finished;
  finished.stage = record;
  RETURN_IF_ERROR(
      Record(kStageFinished, absl::StrCat("stage ", stage.name, " finished"), std::move(finished)));
  // A reward model is not a policy: the stage after it starts from the policy before it.
  if (!algorithm->TrainsRewardHead()) previous_output_ = output;
  return absl::OkStatus();
}

absl::Status JobRunner::Evaluate(const EvaluationRun& run, int64_t round,
                                 clients::LearnerClient* learner, const std::string& session,
                                 bool stage_result) {
  const StagePlan& stage = plan_.stages[stage_index_];
  ASSIGN_OR_RETURN(std::unique_ptr<RoundWorkers> workers,
                   RoundWorkers::Make(*env_.clients, resources_, stage.scheduling.retry, learner));
  rounds::RoundSpec spec;
  spec.round_id = absl::StrCat(job_id_, "/i", iteration_, "/s", stage_index_, "/eval", round);
  spec.session_id = session;  // not trained: the round functions ask for one all the same
  spec.prompts = run.prompts->Round(
      run.seed, 0, std::min<int64_t>(run.max_prompts, run.prompts->size()), spec.round_id);
  spec.sampling = run.sampling;
  spec.sampling.seed = run.seed | 1;
  spec.score_objectives = run.objectives;
  spec.call_timeout = stage.scheduling.rpc_timeout;
  spec.cancellation = cancellation_;
  ASSIGN_OR_RETURN(rounds::RoundReport report,
                   rounds::RunEvaluationRound(workers->clients(), spec));
  MetricMap figures;
  AddRoundMetrics(report, &figures);
  JobUpdate update;
  update.event.round = static_cast<int32_t>(round);
  for (const char* name :
       {"rollouts", "reward_mean", "reward_std", "response_tokens_mean", "truncated_fraction",
        "distinct_1", "distinct_2", "unique_responses", "kl"}) {
    if (figures.contains(name)) update.event.metrics[absl::StrCat("eval/", name)] = figures[name];
  }
  if (stage_result) {
    // The stage's final figures stay with its record (plumbctl report reads them).
    ASSIGN_OR_RETURN(StageRecord record, StageRecordOf(iteration_, stage_index_));
    for (const auto& [name, value] : update.event.metrics) record.metrics[name] = value;
    update.stage = record;
  }
  // A few samples travel in the event's message (plumbctl report shows them): the first
  // response of each of the first prompts, with its score, as one line of JSON.
  nlohmann::json samples = nlohmann::json::array();
  std::map<std::string, std::string> prompt_texts;
  for (const generator::PromptInput& p : spec.prompts) prompt_texts[p.id] = p.text.value_or("");
  std::set<std::string> shown;
  for (size_t i = 0; i < report.rollouts.size() && samples.size() < kEvaluationSamples; ++i) {
    const generator::RolloutResult& r = report.rollouts[i];
    if (!shown.insert(r.prompt_id).second) continue;
    samples.push_back({{"prompt", Clip(prompt_texts[r.prompt_id])},
                       {"response", Clip(r.response_text)},
                       {"score", report.rewards[i]}});
  }
  return Record(
      kEvaluation,
      absl::StrCat("evaluation after round ", round, "\nsamples: ",
                   samples.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)),
      std::move(update));
}

absl::Status JobRunner::RunEvaluationStage(int iteration, int stage_index) {
  const StagePlan& stage = plan_.stages[stage_index];
  ASSIGN_OR_RETURN(PromptSource prompts, PromptSource::Load(stage.prompt_data));
  {
    JobUpdate update;
    ASSIGN_OR_RETURN(update.stage, StageRecordOf(iteration, stage_index));
    RETURN_IF_ERROR(
        Record(kStageStarted, absl::StrCat("stage ", stage.name, " started"), std::move(update)));
  }
  // The policy to evaluate goes to the generators (and, per the stage's reference choice, the
  // policy the KL is measured against to the references) through a learner session that trains
  // nothing.
  const std::string policy = InitialPolicy(stage);
  std::vector<clients::PublishTarget> generators;
  for (const std::string& g : resources_.generators) generators.push_back({g, ""});
  if (stage.models.reference == ReferenceChoice::kJobBase ||
      stage.models.reference == ReferenceChoice::kCheckpoint) {
    RETURN_IF_ERROR(PublishCheckpoint(stage,
                                      stage.models.reference == ReferenceChoice::kJobBase
                                          ? plan_.base_checkpoint
                                          : stage.models.reference_checkpoint,
                                      {{resources_.reference, ""}}, "reference"));
  } else if (stage.models.reference == ReferenceChoice::kStageStart) {
    generators.push_back({resources_.reference, ""});
  }
  RETURN_IF_ERROR(PublishCheckpoint(stage, policy, generators, "policy to evaluate"));
  ASSIGN_OR_RETURN(clients::LearnerClient * learner, env_.clients->Learner(resources_.learner));
  RETURN_IF_ERROR(
      Evaluate({.prompts = &prompts,
                .max_prompts = stage.evaluation.max_prompts,
                .sampling = stage.sampling,
                .objectives = stage.evaluation.objectives.empty() ? stage.scoring.objectives
                                                                  : stage.evaluation.objectives,
                // The job's seed: every EVALUATION stage of a job samples the same prompts with
                // the same seeds, so that before and after compare.
                .seed = plan_.seed},
               0, learner, "(evaluation: nothing is trained)", /*stage_result=*/true));
  ASSIGN_OR_RETURN(StageRecord record, StageRecordOf(iteration, stage_index));
  record.end_time = absl::Now();
  record.output_checkpoint = policy;
  JobUpdate finished;
  finished.stage = record;
  return Record(kStageFinished, absl::StrCat("stage ", stage.name, " finished"),
                std::move(finished));
}

}  // namespace plumb::coordinator
