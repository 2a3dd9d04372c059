// A job as the coordinator's scheduler runs it: the validated, defaulted domain form of a
// plumb.v1.JobSpec (proto/plumb/v1/coordinator.proto), with no proto types. The spec adapter
// (job_spec_reader.h) builds it; every default the proto documents ("0 = 64") is applied here, so
// the scheduler never interprets a zero. Enum-valued fields hold the proto's numbers.
//
// Paths in a plan are resolved: dataset paths are absolute and inside one of the coordinator's
// data roots (or "builtin:<name>"); checkpoint paths are as the learner will read them.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_PLAN_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/api/generator_types.h"
#include "common/api/learner_options.h"
#include "services/plumb-coordinator/job_records.h"

namespace plumb::coordinator {

// plumb.v1.JobKind numbers.
enum class JobKind : int {
  kUnspecified = 0,
  kSft = 1,
  kRewardModel = 2,
  kPpo = 3,
  kGrpo = 4,
  kRloo = 5,
  kReinforce = 6,
  kRejectionSampling = 7,
  kDpo = 8,
  kOnlineDpo = 9,
  kEvaluation = 10,
  kPipeline = 11,
  kIterative = 12,
};

// plumb.v1.StageKind numbers.
enum class StageKind : int {
  kUnspecified = 0,
  kSft = 1,
  kRewardModel = 2,
  kOnlineRl = 3,
  kRejectionSampling = 4,
  kOfflinePreference = 5,
  kOnlinePreference = 6,
  kEvaluation = 7,
};

// plumb.v1.DatasetFormat numbers.
enum class DatasetFormat : int {
  kUnspecified = 0,
  kHhRlhf = 1,
  kRmStatic = 2,
  kStackExchangePaired = 3,
  kKtoUnpaired = 4,
  kRanked = 5,
  kPlainPrompts = 6,
  kPromptCompletion = 7,
  kPlainText = 8,
};

// plumb.v1.ReferenceChoice numbers (UNSPECIFIED is resolved to kStageStart).
enum class ReferenceChoice : int {
  kStageStart = 1,
  kJobBase = 2,
  kCheckpoint = 3,
  kAsDeployed = 4,
};

// plumb.v1.PairSelection numbers (UNSPECIFIED is resolved to kBestWorst).
enum class PairSelection : int { kBestWorst = 1, kJudge = 2 };

// plumb.v1.RoundMode numbers (UNSPECIFIED is resolved to kSync).
enum class RoundMode : int { kSync = 1, kAsync = 2 };

struct DatasetSource {
  std::string path;  // absolute, inside a data root; or "builtin:<name>"
  DatasetFormat format = DatasetFormat::kUnspecified;
  int64_t max_examples = 0;     // 0 = all
  double weight = 1;            // > 0
  std::string prompt_template;  // contains "{prompt}", or empty
};

struct ModelPlan {
  std::string policy_checkpoint;  // empty: the previous stage's output (first stage: the base)
  ReferenceChoice reference = ReferenceChoice::kStageStart;
  std::string reference_checkpoint;  // set iff reference == kCheckpoint
  std::string value_checkpoint;
  std::string output_checkpoint;  // resolved: "<output_dir>/<stage name>" when the spec is empty
  std::string publish_as_objective;
};

struct ScoringPlan {
  std::vector<std::string> objectives;  // empty: every objective of the scorer
  PairSelection pair_selection = PairSelection::kBestWorst;
  std::string judge;
  std::string principle;
  double min_preference_gap = 0;
};

struct RetryPlan {
  int max_attempts = 3;  // per RPC, the first included
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(30);
  double backoff_multiplier = 2.0;
  int max_round_restarts = 2;
};

struct SchedulingPlan {
  int generator_replicas = 0;  // 0: every registered, healthy generator
  int prompts_per_round = 64;
  int rollout_batch_size = 16;  // prompts per Generate call
  int train_batch_size = 0;     // online: 0 = the whole round; offline: 32
  RetryPlan retry;
  absl::Duration rpc_timeout = absl::Seconds(600);
  int checkpoint_every = 0;  // 0: at stage end only
  int publish_every_rounds = 1;
  RoundMode round_mode = RoundMode::kSync;
  int max_policy_lag = 1;
};

struct EvaluationPlan {
  std::vector<DatasetSource> prompt_data;  // empty: no periodic evaluation
  int max_prompts = 256;
  int every = 0;  // 0: at stage end only
  generator::SamplingRequest sampling;
  std::vector<std::string> objectives;  // empty: the stage's scoring objectives
};

struct StagePlan {
  std::string name;  // unique in the job; "stage-<index>" when the spec leaves it empty
  StageKind kind = StageKind::kUnspecified;
  int rounds = 1;
  int epochs = 1;
  int64_t max_train_steps = 0;  // 0 = no limit
  ModelPlan models;
  std::vector<DatasetSource> train_data;
  std::vector<DatasetSource> prompt_data;
  // The learner session's options (validated by SessionOptions::Validate); unset for
  // EVALUATION stages.
  std::optional<learner::SessionOptions> training;
  generator::SamplingRequest sampling;  // num_samples resolved (>= 2 where a group is needed)
  ScoringPlan scoring;
  SchedulingPlan scheduling;
  EvaluationPlan evaluation;
};

// How offline stages' text is encoded (plumb.v1.TokenizationSettings with its defaults applied).
struct TokenizationPlan {
  // "byte", or a model folder / tokenizer.json inside a checkpoint root (resolved, existing at
  // submit); empty when the job has no offline stage.
  std::string tokenizer;
  int max_length = 512;
  int max_prompt_length = 256;
  bool add_eos = true;
};

struct JobPlan {
  std::string name;
  JobKind kind = JobKind::kUnspecified;
  std::vector<StagePlan> stages;  // 1..32
  int iterations = 1;
  std::string base_checkpoint;
  std::string output_dir;  // resolved: "<job root>/<job id>" is filled in at submit
  uint64_t seed = 0;       // 0: the coordinator picks one at submit and records it
  LabelMap labels;
  int priority = 0;                                    // -10..10
  absl::Duration deadline = absl::InfiniteDuration();  // from the job's start
  int max_retries = 2;                                 // -1 = never
  TokenizationPlan tokenization;
};

// Offline stages train on train_data in Train calls the coordinator streams to the learner.
inline bool IsOfflineStage(StageKind kind) {
  return kind == StageKind::kSft || kind == StageKind::kRewardModel ||
         kind == StageKind::kOfflinePreference;
}

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_PLAN_H_
