// JobSpec -> JobPlan: every check of coordinator.proto's SubmitJob comment and the JobSpec /
// Stage field comments, every documented default, each error named by its path in the spec.
// The learner options are SessionOptionsFromProto's (the learner's own reader), re-prefixed.
#include <google/protobuf/duration.pb.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clients/learner_config_proto.h"
#include "common/rpc/message_checks.h"
#include "common/status/echo.h"
#include "services/plumb-coordinator/job_spec_checks.h"
#include "services/plumb-coordinator/job_spec_reader.h"

namespace plumb::coordinator {
namespace {

using spec_internal::PathRules;
using spec_internal::SpecErrors;

constexpr size_t kMaxJobNameBytes = 128;
constexpr size_t kMaxStageNameBytes = 64;
constexpr int kMaxStagesCap = 32;
constexpr int kMaxDatasetsPerList = 64;
constexpr size_t kMaxTemplateBytes = 4096;
constexpr int kMaxLabels = 16;
constexpr size_t kMaxLabelKeyBytes = 64;
constexpr size_t kMaxLabelValueBytes = 256;
constexpr int kMaxObjectives = 16;
constexpr size_t kMaxObjectiveBytes = 64;
constexpr size_t kMaxJudgeBytes = 128;
constexpr size_t kMaxPrincipleBytes = 4096;
constexpr int64_t kMaxDurationSeconds = int64_t{365} * 24 * 3600;
constexpr int kMaxCount = 1000000;  // rounds, checkpoint_every, every, ... ("a lot")

std::string At(const std::string& prefix, const std::string& field) {
  return absl::StrCat(prefix, ".", field);
}
std::string Index(const std::string& prefix, int i) { return absl::StrCat(prefix, "[", i, "]"); }

// [A-Za-z0-9._-], 1..max bytes.
bool IsName(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (const char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void CheckName(const std::string& path, const std::string& name, size_t max, SpecErrors* e) {
  if (!IsName(name, max)) {
    e->Invalid(path, absl::StrCat(Echo(name), ": must be 1..", max, " bytes of [A-Za-z0-9._-]"));
  }
}

void CheckBytes(const std::string& path, const std::string& s, size_t max, SpecErrors* e) {
  if (s.size() > max) e->Invalid(path, absl::StrCat(s.size(), " bytes; at most ", max));
}

// A non-negative duration of at most a year; `unset` for 0 (or absent).
absl::Duration DurationOf(const std::string& path, const google::protobuf::Duration& d,
                          absl::Duration unset, SpecErrors* e) {
  if (d.seconds() < 0 || d.nanos() < 0) {
    e->Invalid(path, "must not be negative");
    return unset;
  }
  if (d.seconds() > kMaxDurationSeconds) {
    e->Invalid(path, absl::StrCat(d.seconds(), "s; at most ", kMaxDurationSeconds, "s"));
    return unset;
  }
  if (d.seconds() == 0 && d.nanos() == 0) return unset;
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

bool IsOnline(v1::StageKind kind) {
  return kind == v1::STAGE_KIND_ONLINE_RL || kind == v1::STAGE_KIND_REJECTION_SAMPLING ||
         kind == v1::STAGE_KIND_ONLINE_PREFERENCE || kind == v1::STAGE_KIND_EVALUATION;
}

// coordinator.proto's table: the algorithms a stage kind accepts.
std::vector<v1::Algorithm> AlgorithmsOf(v1::StageKind kind) {
  switch (kind) {
    case v1::STAGE_KIND_SFT:
      return {v1::ALGORITHM_SFT};
    case v1::STAGE_KIND_REWARD_MODEL:
      return {v1::ALGORITHM_REWARD_MODEL};
    case v1::STAGE_KIND_ONLINE_RL:
      return {v1::ALGORITHM_PPO, v1::ALGORITHM_GRPO, v1::ALGORITHM_RLOO,
              v1::ALGORITHM_REINFORCE_BASELINE};
    case v1::STAGE_KIND_REJECTION_SAMPLING:
      return {v1::ALGORITHM_REJECTION_SAMPLING_SFT};
    case v1::STAGE_KIND_OFFLINE_PREFERENCE:
      return {v1::ALGORITHM_DPO,  v1::ALGORITHM_IPO,   v1::ALGORITHM_CDPO, v1::ALGORITHM_KTO,
              v1::ALGORITHM_ORPO, v1::ALGORITHM_SIMPO, v1::ALGORITHM_RRHF};
    case v1::STAGE_KIND_ONLINE_PREFERENCE:
      return {v1::ALGORITHM_DPO, v1::ALGORITHM_IPO, v1::ALGORITHM_CDPO, v1::ALGORITHM_ORPO,
              v1::ALGORITHM_SIMPO};
    default:
      return {};
  }
}

// The dataset formats that can feed a stage's train_data (offline) or prompt_data (online).
std::vector<v1::DatasetFormat> FormatsFor(v1::StageKind kind, v1::Algorithm algorithm) {
  const std::vector<v1::DatasetFormat> pairs = {v1::DATASET_FORMAT_HH_RLHF,
                                                v1::DATASET_FORMAT_RM_STATIC,
                                                v1::DATASET_FORMAT_STACK_EXCHANGE_PAIRED};
  if (IsOnline(kind)) {
    // Prompts: every format that carries one.
    return {v1::DATASET_FORMAT_PLAIN_PROMPTS,     v1::DATASET_FORMAT_PLAIN_TEXT,
            v1::DATASET_FORMAT_PROMPT_COMPLETION, v1::DATASET_FORMAT_HH_RLHF,
            v1::DATASET_FORMAT_RM_STATIC,         v1::DATASET_FORMAT_STACK_EXCHANGE_PAIRED,
            v1::DATASET_FORMAT_KTO_UNPAIRED,      v1::DATASET_FORMAT_RANKED};
  }
  switch (kind) {
    case v1::STAGE_KIND_SFT:
      return {v1::DATASET_FORMAT_PROMPT_COMPLETION, v1::DATASET_FORMAT_PLAIN_TEXT};
    case v1::STAGE_KIND_REWARD_MODEL:
      return pairs;
    case v1::STAGE_KIND_OFFLINE_PREFERENCE:
      if (algorithm == v1::ALGORITHM_KTO) return {v1::DATASET_FORMAT_KTO_UNPAIRED};
      if (algorithm == v1::ALGORITHM_RRHF) return {v1::DATASET_FORMAT_RANKED};
      return pairs;
    default:
      return {};
  }
}

template <typename T>
bool Contains(const std::vector<T>& v, T x) {
  for (const T& y : v) {
    if (y == x) return true;
  }
  return false;
}

// The single stage kind and, for the RL kinds, the algorithm a single-algorithm job kind needs.
struct SingleKind {
  v1::StageKind stage;
  v1::Algorithm algorithm;  // UNSPECIFIED: any the stage kind accepts
};
std::optional<SingleKind> SingleKindOf(v1::JobKind kind) {
  switch (kind) {
    case v1::JOB_KIND_SFT:
      return SingleKind{v1::STAGE_KIND_SFT, v1::ALGORITHM_SFT};
    case v1::JOB_KIND_REWARD_MODEL:
      return SingleKind{v1::STAGE_KIND_REWARD_MODEL, v1::ALGORITHM_REWARD_MODEL};
    case v1::JOB_KIND_PPO:
      return SingleKind{v1::STAGE_KIND_ONLINE_RL, v1::ALGORITHM_PPO};
    case v1::JOB_KIND_GRPO:
      return SingleKind{v1::STAGE_KIND_ONLINE_RL, v1::ALGORITHM_GRPO};
    case v1::JOB_KIND_RLOO:
      return SingleKind{v1::STAGE_KIND_ONLINE_RL, v1::ALGORITHM_RLOO};
    case v1::JOB_KIND_REINFORCE:
      return SingleKind{v1::STAGE_KIND_ONLINE_RL, v1::ALGORITHM_REINFORCE_BASELINE};
    case v1::JOB_KIND_REJECTION_SAMPLING:
      return SingleKind{v1::STAGE_KIND_REJECTION_SAMPLING, v1::ALGORITHM_REJECTION_SAMPLING_SFT};
    case v1::JOB_KIND_DPO:
      return SingleKind{v1::STAGE_KIND_OFFLINE_PREFERENCE, v1::ALGORITHM_UNSPECIFIED};
    case v1::JOB_KIND_ONLINE_DPO:
      return SingleKind{v1::STAGE_KIND_ONLINE_PREFERENCE, v1::ALGORITHM_UNSPECIFIED};
    case v1::JOB_KIND_EVALUATION:
      return SingleKind{v1::STAGE_KIND_EVALUATION, v1::ALGORITHM_UNSPECIFIED};
    default:
      return std::nullopt;
  }
}

class Planner {
 public:
  Planner(const v1::JobSpec& spec, const SpecPolicy& policy)
      : spec_(spec), policy_(policy), paths_(policy) {}

  absl::StatusOr<JobPlan> Run() {
    // Values first: NaN and undeclared enum numbers would make every later check misleading.
    if (absl::Status values = rpc::CheckMessageValues(spec_, ""); !values.ok()) return values;
    Job();
    if (absl::Status status = errors_.ToStatus(); !status.ok()) return status;
    return std::move(plan_);
  }

 private:
  void Job();
  void Stage(int i, const v1::Stage& s);
  void Training(const std::string& path, const v1::Stage& s, StagePlan* out);
  void Datasets(const std::string& path,
                const google::protobuf::RepeatedPtrField<v1::DatasetRef>& refs,
                const std::vector<v1::DatasetFormat>& formats, std::vector<DatasetSource>* out);
  generator::SamplingRequest Sampling(const std::string& path, const v1::SamplingParams& p);
  SchedulingPlan Scheduling(const std::string& path, const v1::SchedulingSettings& s, bool online);
  ScoringPlan Scoring(const std::string& path, const v1::ScoringSettings& s);
  ModelPlan Models(int i, const std::string& path, const v1::Stage& s);

  const v1::JobSpec& spec_;
  const SpecPolicy& policy_;
  PathRules paths_;
  SpecErrors errors_;
  JobPlan plan_;
  std::set<std::string> stage_names_;
};

void Planner::Job() {
  const v1::JobSpec& j = spec_;
  CheckName("name", j.name(), kMaxJobNameBytes, &errors_);
  plan_.name = j.name();
  plan_.kind = static_cast<JobKind>(j.kind());
  if (j.kind() == v1::JOB_KIND_UNSPECIFIED) errors_.Invalid("kind", "is required");

  const int max_stages = std::min(std::max(policy_.max_stages, 1), kMaxStagesCap);
  if (j.stages_size() < 1 || j.stages_size() > max_stages) {
    errors_.Invalid("stages",
                    absl::StrCat("a job has 1..", max_stages, " stages, got ", j.stages_size()));
  }
  const std::optional<SingleKind> single = SingleKindOf(j.kind());
  if (single && j.stages_size() > 1) {
    errors_.Invalid("stages", absl::StrCat("a ", v1::JobKind_Name(j.kind()),
                                           " job has exactly one stage, got ", j.stages_size()));
  }
  if (j.stages_size() <= max_stages) {
    for (int i = 0; i < j.stages_size(); ++i) {
      const v1::Stage& s = j.stages(i);
      const std::string path = Index("stages", i);
      if (single && s.kind() != single->stage && s.kind() != v1::STAGE_KIND_UNSPECIFIED) {
        errors_.Invalid(At(path, "kind"),
                        absl::StrCat(v1::StageKind_Name(s.kind()), " does not match job kind ",
                                     v1::JobKind_Name(j.kind()), " (it takes ",
                                     v1::StageKind_Name(single->stage), ")"));
      }
      if (single && single->algorithm != v1::ALGORITHM_UNSPECIFIED && s.has_training() &&
          s.training().algorithm() != single->algorithm &&
          s.training().algorithm() != v1::ALGORITHM_UNSPECIFIED) {
        errors_.Invalid(At(path, "training.algorithm"),
                        absl::StrCat(v1::Algorithm_Name(s.training().algorithm()),
                                     " does not match job kind ", v1::JobKind_Name(j.kind()),
                                     " (it takes ", v1::Algorithm_Name(single->algorithm), ")"));
      }
      Stage(i, s);
    }
  }

  if (j.kind() == v1::JOB_KIND_ITERATIVE) {
    plan_.iterations = j.iterations() == 0 ? 1 : j.iterations();
    errors_.InRange("iterations", j.iterations(), 0, 1000);
  } else {
    plan_.iterations = 1;
    if (j.iterations() != 0 && j.iterations() != 1) {
      errors_.Invalid("iterations", absl::StrCat("must be 0 or 1 unless the job is "
                                                 "JOB_KIND_ITERATIVE, got ",
                                                 j.iterations()));
    }
  }
  plan_.base_checkpoint = paths_.Checkpoint("base_checkpoint", j.base_checkpoint(), &errors_);
  plan_.output_dir = paths_.Checkpoint("output_dir", j.output_dir(), &errors_);
  plan_.seed = j.seed();
  errors_.AddStatus(rpc::CheckStringMap(j.labels(), "labels", kMaxLabels, kMaxLabelKeyBytes,
                                        kMaxLabelValueBytes));
  plan_.labels = LabelMap(j.labels().begin(), j.labels().end());
  errors_.InRange("priority", j.priority(), -10, 10);
  plan_.priority = j.priority();
  plan_.deadline = DurationOf("deadline", j.deadline(), absl::InfiniteDuration(), &errors_);
  errors_.InRange("max_retries", j.max_retries(), -1, 100);
  plan_.max_retries = j.max_retries() == 0 ? 2 : j.max_retries();

  // Resolve output checkpoints under an explicit output_dir (else the scheduler does, at submit).
  if (!plan_.output_dir.empty()) {
    for (StagePlan& stage : plan_.stages) {
      if (stage.models.output_checkpoint.empty()) {
        stage.models.output_checkpoint = absl::StrCat(plan_.output_dir, "/", stage.name);
      }
    }
  }
}

void Planner::Stage(int i, const v1::Stage& s) {
  const std::string path = Index("stages", i);
  StagePlan out;
  out.name = s.name().empty() ? absl::StrCat("stage-", i) : s.name();
  CheckName(At(path, "name"), out.name, kMaxStageNameBytes, &errors_);
  if (!stage_names_.insert(out.name).second) {
    errors_.Invalid(At(path, "name"), absl::StrCat(Echo(out.name), " names two stages"));
  }
  out.kind = static_cast<StageKind>(s.kind());
  if (s.kind() == v1::STAGE_KIND_UNSPECIFIED) errors_.Invalid(At(path, "kind"), "is required");
  const bool online = IsOnline(s.kind());

  errors_.InRange(At(path, "rounds"), s.rounds(), 0, kMaxCount);
  out.rounds = s.rounds() == 0 ? 1 : s.rounds();
  errors_.InRange(At(path, "epochs"), s.epochs(), 0, 1000);
  out.epochs = s.epochs() == 0 ? 1 : s.epochs();
  errors_.InRange(At(path, "max_train_steps"), s.max_train_steps(), 0, int64_t{1} << 40);
  out.max_train_steps = s.max_train_steps();

  Training(path, s, &out);
  const v1::Algorithm algorithm =
      s.has_training() ? s.training().algorithm() : v1::ALGORITHM_UNSPECIFIED;
  const std::vector<v1::DatasetFormat> formats = FormatsFor(s.kind(), algorithm);
  if (online) {
    if (s.prompt_data_size() == 0) {
      errors_.Invalid(At(path, "prompt_data"),
                      absl::StrCat("is required by a ", v1::StageKind_Name(s.kind()), " stage"));
    }
    if (s.train_data_size() > 0) {
      errors_.Invalid(At(path, "train_data"),
                      absl::StrCat("is not read by a ", v1::StageKind_Name(s.kind()),
                                   " stage (it samples from prompt_data)"));
    }
  } else if (s.kind() != v1::STAGE_KIND_UNSPECIFIED) {
    if (s.train_data_size() == 0) {
      errors_.Invalid(At(path, "train_data"),
                      absl::StrCat("is required by a ", v1::StageKind_Name(s.kind()), " stage"));
    }
    if (s.prompt_data_size() > 0) {
      errors_.Invalid(At(path, "prompt_data"),
                      absl::StrCat("is not read by a ", v1::StageKind_Name(s.kind()),
                                   " stage (it trains on train_data)"));
    }
  }
  Datasets(At(path, "train_data"), s.train_data(), formats, &out.train_data);
  Datasets(At(path, "prompt_data"), s.prompt_data(), formats, &out.prompt_data);

  out.models = Models(i, At(path, "models"), s);
  out.sampling = Sampling(At(path, "sampling"), s.sampling());
  const bool needs_group = algorithm == v1::ALGORITHM_GRPO || algorithm == v1::ALGORITHM_RLOO ||
                           s.kind() == v1::STAGE_KIND_ONLINE_PREFERENCE;
  if (needs_group && out.sampling.num_samples < 2) {
    errors_.Invalid(
        At(path, "sampling.num_samples"),
        absl::StrCat("must be >= 2 for ",
                     s.kind() == v1::STAGE_KIND_ONLINE_PREFERENCE ? v1::StageKind_Name(s.kind())
                                                                  : v1::Algorithm_Name(algorithm),
                     " (a group of samples per prompt), got ", s.sampling().num_samples()));
  }
  out.scoring = Scoring(At(path, "scoring"), s.scoring());
  out.scheduling = Scheduling(At(path, "scheduling"), s.scheduling(), online);

  const std::string eval = At(path, "evaluation");
  const v1::EvaluationSettings& e = s.evaluation();
  Datasets(At(eval, "prompt_data"), e.prompt_data(),
           FormatsFor(v1::STAGE_KIND_EVALUATION, v1::ALGORITHM_UNSPECIFIED),
           &out.evaluation.prompt_data);
  errors_.InRange(At(eval, "max_prompts"), e.max_prompts(), 0, 100000);
  out.evaluation.max_prompts = e.max_prompts() == 0 ? 256 : e.max_prompts();
  errors_.InRange(At(eval, "every"), e.every(), 0, kMaxCount);
  out.evaluation.every = e.every();
  out.evaluation.sampling = Sampling(At(eval, "sampling"), e.sampling());
  plan_.stages.push_back(std::move(out));
}

void Planner::Training(const std::string& path, const v1::Stage& s, StagePlan* out) {
  const std::string training = At(path, "training");
  if (s.kind() == v1::STAGE_KIND_EVALUATION) {
    if (s.has_training()) {
      errors_.Invalid(training, "an evaluation stage trains nothing; leave it unset");
    }
    return;
  }
  if (!s.has_training()) {
    if (s.kind() != v1::STAGE_KIND_UNSPECIFIED) errors_.Invalid(training, "is required");
    return;
  }
  const v1::Algorithm algorithm = s.training().algorithm();
  const std::vector<v1::Algorithm> allowed = AlgorithmsOf(s.kind());
  if (s.kind() != v1::STAGE_KIND_UNSPECIFIED && algorithm != v1::ALGORITHM_UNSPECIFIED &&
      !Contains(allowed, algorithm)) {
    errors_.Invalid(At(training, "algorithm"),
                    absl::StrCat(v1::Algorithm_Name(algorithm), " cannot train a ",
                                 v1::StageKind_Name(s.kind()), " stage"));
  }
  absl::StatusOr<learner::SessionOptions> options = clients::SessionOptionsFromProto(s.training());
  if (!options.ok()) {
    // The reader names fields "config.<path>"; in a spec they sit under the stage's training.
    std::string message(options.status().message());
    if (absl::StartsWith(message, "config.")) {
      message = absl::StrCat(training, ".", message.substr(7));
    } else {
      message = absl::StrCat(training, ": ", message);
    }
    errors_.AddStatus(absl::Status(options.status().code(), message));
    return;
  }
  out->training = *std::move(options);
}

void Planner::Datasets(const std::string& path,
                       const google::protobuf::RepeatedPtrField<v1::DatasetRef>& refs,
                       const std::vector<v1::DatasetFormat>& formats,
                       std::vector<DatasetSource>* out) {
  if (refs.size() > kMaxDatasetsPerList) {
    errors_.Invalid(path, absl::StrCat(refs.size(), " datasets; at most ", kMaxDatasetsPerList));
    return;
  }
  for (int k = 0; k < refs.size(); ++k) {
    const v1::DatasetRef& ref = refs[k];
    const std::string at = Index(path, k);
    DatasetSource source;
    source.path = paths_.Dataset(At(at, "path"), ref.path(), &errors_);
    source.format = static_cast<DatasetFormat>(ref.format());
    if (ref.format() == v1::DATASET_FORMAT_UNSPECIFIED) {
      errors_.Invalid(At(at, "format"), "is required");
    } else if (!formats.empty() && !Contains(formats, ref.format())) {
      errors_.Invalid(At(at, "format"), absl::StrCat(v1::DatasetFormat_Name(ref.format()),
                                                     " cannot feed this stage"));
    }
    if (ref.max_examples() < 0) errors_.Invalid(At(at, "max_examples"), "must not be negative");
    source.max_examples = ref.max_examples();
    if (ref.weight() < 0 || ref.weight() > 1e6) {
      errors_.Invalid(At(at, "weight"), absl::StrCat("must be in [0, 1e6], got ", ref.weight()));
    }
    source.weight = ref.weight() == 0 ? 1.0 : ref.weight();
    CheckBytes(At(at, "prompt_template"), ref.prompt_template(), kMaxTemplateBytes, &errors_);
    if (!ref.prompt_template().empty() &&
        ref.prompt_template().find("{prompt}") == std::string::npos) {
      errors_.Invalid(At(at, "prompt_template"), "must contain \"{prompt}\"");
    }
    source.prompt_template = ref.prompt_template();
    out->push_back(std::move(source));
  }
}

generator::SamplingRequest Planner::Sampling(const std::string& path, const v1::SamplingParams& p) {
  generator::SamplingRequest r;
  if (p.has_temperature()) {
    if (p.temperature() < 0 || p.temperature() > 100) {
      errors_.Invalid(At(path, "temperature"),
                      absl::StrCat("must be in [0, 100], got ", p.temperature()));
    }
    r.temperature = p.temperature();
  }
  errors_.InRange(At(path, "top_k"), p.top_k(), 0, 1 << 24);
  r.top_k = p.top_k();
  if (p.has_top_p()) {
    if (!(p.top_p() > 0 && p.top_p() <= 1)) {
      errors_.Invalid(At(path, "top_p"), absl::StrCat("must be in (0, 1], got ", p.top_p()));
    }
    r.top_p = p.top_p();
  }
  errors_.InRange(At(path, "max_new_tokens"), p.max_new_tokens(), 0, 1 << 20);
  r.max_new_tokens = p.max_new_tokens();
  errors_.InRange(At(path, "min_new_tokens"), p.min_new_tokens(), 0,
                  p.max_new_tokens() > 0 ? p.max_new_tokens() : 1 << 20);
  r.min_new_tokens = p.min_new_tokens();
  if (p.stop_token_ids_size() > 16) {
    errors_.Invalid(At(path, "stop_token_ids"),
                    absl::StrCat(p.stop_token_ids_size(), " ids; at most 16"));
  }
  for (int k = 0; k < p.stop_token_ids_size(); ++k) {
    if (p.stop_token_ids(k) < 0) {
      errors_.Invalid(Index(At(path, "stop_token_ids"), k), "must not be negative");
    }
    r.stop_token_ids.push_back(p.stop_token_ids(k));
  }
  if (p.stop_strings_size() > 8) {
    errors_.Invalid(At(path, "stop_strings"),
                    absl::StrCat(p.stop_strings_size(), " strings; at most 8"));
  }
  for (int k = 0; k < p.stop_strings_size(); ++k) {
    if (p.stop_strings(k).empty() || p.stop_strings(k).size() > 64) {
      errors_.Invalid(Index(At(path, "stop_strings"), k), "must be 1..64 bytes");
    }
    r.stop_strings.push_back(p.stop_strings(k));
  }
  errors_.InRange(At(path, "num_samples"), p.num_samples(), 0, 4096);
  r.num_samples = p.num_samples() == 0 ? 1 : p.num_samples();
  r.seed = p.seed();
  r.return_logprobs = p.return_logprobs();
  r.ignore_eos = p.ignore_eos();
  return r;
}

ScoringPlan Planner::Scoring(const std::string& path, const v1::ScoringSettings& s) {
  ScoringPlan out;
  if (s.objectives_size() > kMaxObjectives) {
    errors_.Invalid(At(path, "objectives"),
                    absl::StrCat(s.objectives_size(), " objectives; at most ", kMaxObjectives));
  }
  for (int k = 0; k < s.objectives_size(); ++k) {
    CheckName(Index(At(path, "objectives"), k), s.objectives(k), kMaxObjectiveBytes, &errors_);
    out.objectives.push_back(s.objectives(k));
  }
  out.pair_selection = s.pair_selection() == v1::PAIR_SELECTION_JUDGE ? PairSelection::kJudge
                                                                      : PairSelection::kBestWorst;
  CheckBytes(At(path, "judge"), s.judge(), kMaxJudgeBytes, &errors_);
  CheckBytes(At(path, "principle"), s.principle(), kMaxPrincipleBytes, &errors_);
  out.judge = s.judge();
  out.principle = s.principle();
  if (s.min_preference_gap() < 0 || s.min_preference_gap() > 1e6) {
    errors_.Invalid(At(path, "min_preference_gap"),
                    absl::StrCat("must be in [0, 1e6], got ", s.min_preference_gap()));
  }
  out.min_preference_gap = s.min_preference_gap();
  return out;
}

SchedulingPlan Planner::Scheduling(const std::string& path, const v1::SchedulingSettings& s,
                                   bool online) {
  SchedulingPlan out;
  errors_.InRange(At(path, "generator_replicas"), s.generator_replicas(), 0, 1024);
  out.generator_replicas = s.generator_replicas();
  errors_.InRange(At(path, "prompts_per_round"), s.prompts_per_round(), 0, 100000);
  out.prompts_per_round = s.prompts_per_round() == 0 ? 64 : s.prompts_per_round();
  errors_.InRange(At(path, "rollout_batch_size"), s.rollout_batch_size(), 0, 4096);
  out.rollout_batch_size = s.rollout_batch_size() == 0 ? 16 : s.rollout_batch_size();
  errors_.InRange(At(path, "train_batch_size"), s.train_batch_size(), 0, 100000);
  out.train_batch_size = s.train_batch_size() == 0 && !online ? 32 : s.train_batch_size();

  const std::string retry = At(path, "retry");
  const v1::RetryPolicy& r = s.retry();
  errors_.InRange(At(retry, "max_attempts"), r.max_attempts(), 0, 100);
  out.retry.max_attempts = r.max_attempts() == 0 ? 3 : r.max_attempts();
  out.retry.initial_backoff =
      DurationOf(At(retry, "initial_backoff"), r.initial_backoff(), absl::Seconds(1), &errors_);
  out.retry.max_backoff =
      DurationOf(At(retry, "max_backoff"), r.max_backoff(), absl::Seconds(30), &errors_);
  if (out.retry.max_backoff < out.retry.initial_backoff) {
    errors_.Invalid(At(retry, "max_backoff"),
                    absl::StrCat("must be >= initial_backoff (",
                                 absl::FormatDuration(out.retry.initial_backoff), "), got ",
                                 absl::FormatDuration(out.retry.max_backoff)));
  }
  if (r.backoff_multiplier() != 0 && (r.backoff_multiplier() < 1 || r.backoff_multiplier() > 10)) {
    errors_.Invalid(
        At(retry, "backoff_multiplier"),
        absl::StrCat("must be in [1, 10] (or 0 for 2.0), got ", r.backoff_multiplier()));
  }
  out.retry.backoff_multiplier = r.backoff_multiplier() == 0 ? 2.0 : r.backoff_multiplier();
  errors_.InRange(At(retry, "max_round_restarts"), r.max_round_restarts(), 0, 100);
  out.retry.max_round_restarts = r.max_round_restarts() == 0 ? 2 : r.max_round_restarts();

  out.rpc_timeout =
      DurationOf(At(path, "rpc_timeout"), s.rpc_timeout(), absl::Seconds(600), &errors_);
  errors_.InRange(At(path, "checkpoint_every"), s.checkpoint_every(), 0, kMaxCount);
  out.checkpoint_every = s.checkpoint_every();
  errors_.InRange(At(path, "publish_every_rounds"), s.publish_every_rounds(), 0, kMaxCount);
  out.publish_every_rounds = s.publish_every_rounds() == 0 ? 1 : s.publish_every_rounds();
  out.round_mode = s.round_mode() == v1::ROUND_MODE_ASYNC ? RoundMode::kAsync : RoundMode::kSync;
  errors_.InRange(At(path, "max_policy_lag"), s.max_policy_lag(), 0, 16);
  out.max_policy_lag = s.max_policy_lag() == 0 ? 1 : s.max_policy_lag();
  return out;
}

ModelPlan Planner::Models(int i, const std::string& path, const v1::Stage& s) {
  const v1::ModelRefs& m = s.models();
  ModelPlan out;
  out.policy_checkpoint =
      paths_.Checkpoint(At(path, "policy_checkpoint"), m.policy_checkpoint(), &errors_);
  if (i == 0 && m.policy_checkpoint().empty() && spec_.base_checkpoint().empty()) {
    errors_.Invalid(At(path, "policy_checkpoint"),
                    "the first stage needs a policy checkpoint (or the job's base_checkpoint)");
  }
  switch (m.reference()) {
    case v1::REFERENCE_CHOICE_JOB_BASE:
      out.reference = ReferenceChoice::kJobBase;
      if (spec_.base_checkpoint().empty()) {
        errors_.Invalid(At(path, "reference"), "REFERENCE_CHOICE_JOB_BASE needs base_checkpoint");
      }
      break;
    case v1::REFERENCE_CHOICE_CHECKPOINT:
      out.reference = ReferenceChoice::kCheckpoint;
      if (m.reference_checkpoint().empty()) {
        errors_.Invalid(At(path, "reference_checkpoint"),
                        "is required with REFERENCE_CHOICE_CHECKPOINT");
      }
      break;
    case v1::REFERENCE_CHOICE_AS_DEPLOYED:
      out.reference = ReferenceChoice::kAsDeployed;
      break;
    default:
      out.reference = ReferenceChoice::kStageStart;
  }
  if (!m.reference_checkpoint().empty() && m.reference() != v1::REFERENCE_CHOICE_CHECKPOINT) {
    errors_.Invalid(At(path, "reference_checkpoint"),
                    "is only read with reference: REFERENCE_CHOICE_CHECKPOINT");
  }
  out.reference_checkpoint =
      paths_.Checkpoint(At(path, "reference_checkpoint"), m.reference_checkpoint(), &errors_);
  out.value_checkpoint =
      paths_.Checkpoint(At(path, "value_checkpoint"), m.value_checkpoint(), &errors_);
  out.output_checkpoint =
      paths_.Checkpoint(At(path, "output_checkpoint"), m.output_checkpoint(), &errors_);
  if (!m.publish_as_objective().empty()) {
    if (s.kind() != v1::STAGE_KIND_REWARD_MODEL) {
      errors_.Invalid(At(path, "publish_as_objective"),
                      "only a STAGE_KIND_REWARD_MODEL stage publishes an objective");
    }
    CheckName(At(path, "publish_as_objective"), m.publish_as_objective(), kMaxObjectiveBytes,
              &errors_);
  }
  out.publish_as_objective = m.publish_as_objective();
  return out;
}

}  // namespace

absl::StatusOr<JobPlan> PlanFromSpec(const v1::JobSpec& spec, const SpecPolicy& policy) {
  return Planner(spec, policy).Run();
}

}  // namespace plumb::coordinator
