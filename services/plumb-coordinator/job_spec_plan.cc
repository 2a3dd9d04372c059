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

using spec_internal::At;
using spec_internal::CheckBytes;
using spec_internal::CheckName;
using spec_internal::DurationOf;
using spec_internal::Index;
using spec_internal::kMaxCount;
using spec_internal::kMaxObjectives;
using spec_internal::kMaxSpecNameBytes;
using spec_internal::PathRules;
using spec_internal::SamplingFromSpec;
using spec_internal::SchedulingFromSpec;
using spec_internal::ScoringFromSpec;
using spec_internal::SpecErrors;

constexpr size_t kMaxJobNameBytes = 128;
constexpr int kMaxStagesCap = 32;
constexpr int kMaxDatasetsPerList = 64;
constexpr size_t kMaxTemplateBytes = 4096;
constexpr int kMaxLabels = 16;
constexpr size_t kMaxLabelKeyBytes = 64;
constexpr size_t kMaxLabelValueBytes = 256;

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
  void Tokenization();

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

  Tokenization();

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
  CheckName(At(path, "name"), out.name, kMaxSpecNameBytes, &errors_);
  if (!stage_names_.insert(out.name).second) {
    errors_.Invalid(At(path, "name"), absl::StrCat(Echo(out.name), " names two stages"));
  }
  out.kind = static_cast<StageKind>(s.kind());
  if (s.kind() == v1::STAGE_KIND_UNSPECIFIED) errors_.Invalid(At(path, "kind"), "is required");
  // A REWARD_MODEL stage trains on train_data, or on pairs it samples from the policy on its
  // prompt_data and labels with its scoring objectives (a judge).
  const bool judged_rm = s.kind() == v1::STAGE_KIND_REWARD_MODEL && s.prompt_data_size() > 0 &&
                         s.train_data_size() == 0;
  const bool online = IsOnline(s.kind()) || judged_rm;

  errors_.InRange(At(path, "rounds"), s.rounds(), 0, kMaxCount);
  out.rounds = s.rounds() == 0 ? 1 : s.rounds();
  errors_.InRange(At(path, "epochs"), s.epochs(), 0, 1000);
  out.epochs = s.epochs() == 0 ? 1 : s.epochs();
  errors_.InRange(At(path, "max_train_steps"), s.max_train_steps(), 0, int64_t{1} << 40);
  out.max_train_steps = s.max_train_steps();

  Training(path, s, &out);
  const v1::Algorithm algorithm =
      s.has_training() ? s.training().algorithm() : v1::ALGORITHM_UNSPECIFIED;
  const std::vector<v1::DatasetFormat> formats =
      judged_rm ? FormatsFor(v1::STAGE_KIND_EVALUATION, algorithm)
                : FormatsFor(s.kind(), algorithm);
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
  out.sampling = SamplingFromSpec(At(path, "sampling"), s.sampling(), &errors_);
  const bool needs_group = algorithm == v1::ALGORITHM_GRPO || algorithm == v1::ALGORITHM_RLOO ||
                           s.kind() == v1::STAGE_KIND_ONLINE_PREFERENCE || judged_rm;
  if (needs_group && out.sampling.num_samples < 2) {
    errors_.Invalid(
        At(path, "sampling.num_samples"),
        absl::StrCat("must be >= 2 for ",
                     s.kind() == v1::STAGE_KIND_ONLINE_PREFERENCE ? v1::StageKind_Name(s.kind())
                                                                  : v1::Algorithm_Name(algorithm),
                     " (a group of samples per prompt), got ", s.sampling().num_samples()));
  }
  out.scoring = ScoringFromSpec(At(path, "scoring"), s.scoring(), &errors_);
  out.scheduling = SchedulingFromSpec(At(path, "scheduling"), s.scheduling(), online, &errors_);

  const std::string eval = At(path, "evaluation");
  const v1::EvaluationSettings& e = s.evaluation();
  Datasets(At(eval, "prompt_data"), e.prompt_data(),
           FormatsFor(v1::STAGE_KIND_EVALUATION, v1::ALGORITHM_UNSPECIFIED),
           &out.evaluation.prompt_data);
  errors_.InRange(At(eval, "max_prompts"), e.max_prompts(), 0, 100000);
  out.evaluation.max_prompts = e.max_prompts() == 0 ? 256 : e.max_prompts();
  errors_.InRange(At(eval, "every"), e.every(), 0, kMaxCount);
  out.evaluation.every = e.every();
  out.evaluation.sampling = SamplingFromSpec(At(eval, "sampling"), e.sampling(), &errors_);
  if (e.objectives_size() > kMaxObjectives) {
    errors_.Invalid(At(eval, "objectives"),
                    absl::StrCat(e.objectives_size(), " objectives; at most ", kMaxObjectives));
  } else {
    for (int k = 0; k < e.objectives_size(); ++k) {
      CheckName(Index(At(eval, "objectives"), k), e.objectives(k), kMaxSpecNameBytes, &errors_);
      out.evaluation.objectives.push_back(e.objectives(k));
    }
  }
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
    CheckName(At(path, "publish_as_objective"), m.publish_as_objective(), kMaxSpecNameBytes,
              &errors_);
  }
  out.publish_as_objective = m.publish_as_objective();
  return out;
}

void Planner::Tokenization() {
  const v1::TokenizationSettings& t = spec_.tokenization();
  TokenizationPlan& out = plan_.tokenization;
  if (errors_.InRange("tokenization.max_length", t.max_length(), 0, 1 << 20)) {
    out.max_length = t.max_length() == 0 ? 512 : t.max_length();
  }
  if (errors_.InRange("tokenization.max_prompt_length", t.max_prompt_length(), 0, out.max_length)) {
    out.max_prompt_length =
        t.max_prompt_length() == 0 ? std::max(1, out.max_length / 2) : t.max_prompt_length();
  }
  out.add_eos = !t.no_eos();
  bool offline = false;
  for (const StagePlan& stage : plan_.stages) offline = offline || IsOfflineStage(stage.kind);
  if (!offline) {
    if (!t.tokenizer().empty() && t.tokenizer() != "byte") {
      out.tokenizer = paths_.Checkpoint("tokenization.tokenizer", t.tokenizer(), &errors_);
    }
    return;
  }
  if (t.tokenizer() == "byte") {
    out.tokenizer = "byte";
    return;
  }
  const std::string& path = t.tokenizer().empty() ? spec_.base_checkpoint() : t.tokenizer();
  if (path.empty()) {
    errors_.Invalid("tokenization.tokenizer",
                    "offline stages need a tokenizer to encode their data: set it (\"byte\", or a "
                    "model folder or tokenizer.json) or set base_checkpoint");
    return;
  }
  out.tokenizer = paths_.ReadableCheckpoint(
      t.tokenizer().empty() ? "base_checkpoint" : "tokenization.tokenizer", path, &errors_);
}

}  // namespace

absl::StatusOr<JobPlan> PlanFromSpec(const v1::JobSpec& spec, const SpecPolicy& policy) {
  return Planner(spec, policy).Run();
}

}  // namespace plumb::coordinator
