// The job-spec adapter: YAML and JSON specs become JobPlans with every documented default, and
// each class of bad spec is refused with the path of the offending key.
#include "services/plumb-coordinator/job_spec_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace plumb::coordinator {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Roots under a temporary folder named after this process: data/ (with a prompts file and a
// symlink that escapes), ckpt/ and outside/.
class JobSpecReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / absl::StrCat("plumb_job_spec_test_", getpid());
    fs::remove_all(root_);
    fs::create_directories(root_ / "data" / "prompts");
    fs::create_directories(root_ / "ckpt");
    fs::create_directories(root_ / "outside");
    std::ofstream(root_ / "data" / "prompts" / "plain.jsonl") << "{\"prompt\": \"hi\"}\n";
    std::ofstream(root_ / "data" / "prompts" / "held_out.jsonl") << "{\"prompt\": \"ho\"}\n";
    std::ofstream(root_ / "outside" / "secret.jsonl") << "{\"prompt\": \"secret\"}\n";
    fs::create_symlink(root_ / "outside" / "secret.jsonl", root_ / "data" / "escape.jsonl");
    policy_.data_roots = {(root_ / "data").string()};
    policy_.checkpoint_roots = {(root_ / "ckpt").string()};
    policy_.job_root = (root_ / "ckpt" / "jobs").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  absl::StatusOr<JobPlan> Plan(const std::string& yaml) {
    absl::StatusOr<v1::JobSpec> spec = ParseJobSpecText(yaml, "spec.yaml");
    if (!spec.ok()) return spec.status();
    return PlanFromSpec(*spec, policy_);
  }

  fs::path root_;
  SpecPolicy policy_;
};

// A PPO job with only what has no default.
constexpr char kMinimalPpo[] = R"(
name: ppo-min
kind: JOB_KIND_PPO
base_checkpoint: base
stages:
  - kind: STAGE_KIND_ONLINE_RL
    prompt_data:
      - path: prompts/plain.jsonl
        format: DATASET_FORMAT_PLAIN_PROMPTS
    training:
      algorithm: ALGORITHM_PPO
)";

// kMinimalPpo with one line replaced.
std::string With(const std::string& from, const std::string& to) {
  std::string spec = kMinimalPpo;
  EXPECT_NE(spec.find(from), std::string::npos) << from;
  return absl::StrReplaceAll(spec, {{from, to}});
}

void ExpectDefaults(const JobPlan& plan, const fs::path& root) {
  EXPECT_EQ(plan.name, "ppo-min");
  EXPECT_EQ(plan.kind, JobKind::kPpo);
  EXPECT_EQ(plan.iterations, 1);
  EXPECT_EQ(plan.base_checkpoint, (root / "ckpt" / "base").string());
  EXPECT_EQ(plan.output_dir, "");  // filled at submit
  EXPECT_EQ(plan.seed, 0u);
  EXPECT_TRUE(plan.labels.empty());
  EXPECT_EQ(plan.priority, 0);
  EXPECT_EQ(plan.deadline, absl::InfiniteDuration());
  EXPECT_EQ(plan.max_retries, 2);
  ASSERT_EQ(plan.stages.size(), 1u);
  const StagePlan& s = plan.stages[0];
  EXPECT_EQ(s.name, "stage-0");
  EXPECT_EQ(s.kind, StageKind::kOnlineRl);
  EXPECT_EQ(s.rounds, 1);
  EXPECT_EQ(s.epochs, 1);
  EXPECT_EQ(s.max_train_steps, 0);
  EXPECT_EQ(s.models.policy_checkpoint, "");
  EXPECT_EQ(s.models.reference, ReferenceChoice::kStageStart);
  EXPECT_EQ(s.models.reference_checkpoint, "");
  EXPECT_EQ(s.models.value_checkpoint, "");
  EXPECT_EQ(s.models.output_checkpoint, "");
  EXPECT_EQ(s.models.publish_as_objective, "");
  EXPECT_TRUE(s.train_data.empty());
  ASSERT_EQ(s.prompt_data.size(), 1u);
  EXPECT_EQ(s.prompt_data[0].path,
            fs::canonical(root / "data" / "prompts" / "plain.jsonl").string());
  EXPECT_EQ(s.prompt_data[0].format, DatasetFormat::kPlainPrompts);
  EXPECT_EQ(s.prompt_data[0].max_examples, 0);
  EXPECT_EQ(s.prompt_data[0].weight, 1.0);
  EXPECT_EQ(s.prompt_data[0].prompt_template, "");
  ASSERT_TRUE(s.training.has_value());
  EXPECT_EQ(s.training->algorithm, learner::Algorithm::kPpo);
  EXPECT_DOUBLE_EQ(s.training->optimizer.lr, 1e-5);
  EXPECT_DOUBLE_EQ(s.training->ppo.clip_low, 0.2);
  EXPECT_EQ(s.training->ppo.epochs, 4);
  EXPECT_FALSE(s.sampling.temperature.has_value());
  EXPECT_FALSE(s.sampling.top_p.has_value());
  EXPECT_EQ(s.sampling.num_samples, 1);
  EXPECT_EQ(s.sampling.max_new_tokens, 0);
  EXPECT_TRUE(s.scoring.objectives.empty());
  EXPECT_EQ(s.scoring.pair_selection, PairSelection::kBestWorst);
  EXPECT_EQ(s.scoring.min_preference_gap, 0);
  const SchedulingPlan& sched = s.scheduling;
  EXPECT_EQ(sched.generator_replicas, 0);
  EXPECT_EQ(sched.prompts_per_round, 64);
  EXPECT_EQ(sched.rollout_batch_size, 16);
  EXPECT_EQ(sched.train_batch_size, 0);  // online: the whole round
  EXPECT_EQ(sched.retry.max_attempts, 3);
  EXPECT_EQ(sched.retry.initial_backoff, absl::Seconds(1));
  EXPECT_EQ(sched.retry.max_backoff, absl::Seconds(30));
  EXPECT_EQ(sched.retry.backoff_multiplier, 2.0);
  EXPECT_EQ(sched.retry.max_round_restarts, 2);
  EXPECT_EQ(sched.rpc_timeout, absl::Seconds(600));
  EXPECT_EQ(sched.checkpoint_every, 0);
  EXPECT_EQ(sched.publish_every_rounds, 1);
  EXPECT_EQ(sched.round_mode, RoundMode::kSync);
  EXPECT_EQ(sched.max_policy_lag, 1);
  EXPECT_TRUE(s.evaluation.prompt_data.empty());
  EXPECT_EQ(s.evaluation.max_prompts, 256);
  EXPECT_EQ(s.evaluation.every, 0);
}

TEST_F(JobSpecReaderTest, AMinimalYamlPpoSpecGetsEveryDocumentedDefault) {
  absl::StatusOr<JobPlan> plan = Plan(kMinimalPpo);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ExpectDefaults(*plan, root_);
}

TEST_F(JobSpecReaderTest, TheSameSpecInJsonWithLowerCamelKeysGivesTheSamePlan) {
  const std::string json = R"({"name": "ppo-min", "kind": "JOB_KIND_PPO",
    "baseCheckpoint": "base",
    "stages": [{"kind": "STAGE_KIND_ONLINE_RL",
                "promptData": [{"path": "prompts/plain.jsonl",
                                "format": "DATASET_FORMAT_PLAIN_PROMPTS"}],
                "training": {"algorithm": "ALGORITHM_PPO"}}]})";
  absl::StatusOr<JobPlan> plan = Plan(json);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ExpectDefaults(*plan, root_);
}

TEST_F(JobSpecReaderTest, TheExampleSpecInConfigsParsesIntoAPlan) {
  const char* source_dir = std::getenv("PLUMB_SOURCE_DIR");
  const fs::path file =
      fs::path(source_dir != nullptr ? source_dir : ".") / "configs" / "jobs" / "ppo.yaml";
  std::ifstream in(file);
  ASSERT_TRUE(in) << file;
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecText(text.str(), file.string());
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<JobPlan> plan = PlanFromSpec(*spec, policy_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->name, "ppo-small");
  EXPECT_EQ(plan->seed, 1234u);
  EXPECT_EQ(plan->deadline, absl::Hours(1));
  EXPECT_EQ(plan->labels.at("team"), "alignment");
  ASSERT_EQ(plan->stages.size(), 1u);
  const StagePlan& s = plan->stages[0];
  EXPECT_EQ(s.name, "ppo");
  EXPECT_EQ(s.rounds, 20);
  EXPECT_EQ(s.prompt_data[0].max_examples, 1000);
  EXPECT_EQ(s.prompt_data[0].prompt_template, "\n\nHuman: {prompt}\n\nAssistant:");
  EXPECT_EQ(s.training->ppo.epochs, 2);
  EXPECT_DOUBLE_EQ(*s.sampling.temperature, 1.0);
  EXPECT_EQ(s.scoring.objectives, std::vector<std::string>{"sentiment"});
  EXPECT_EQ(s.scheduling.prompts_per_round, 32);
  EXPECT_EQ(s.scheduling.rpc_timeout, absl::Seconds(120));
  EXPECT_EQ(s.evaluation.prompt_data[0].path,
            fs::canonical(root_ / "data" / "prompts" / "held_out.jsonl").string());
  EXPECT_DOUBLE_EQ(*s.evaluation.sampling.temperature, 0.0);
}

// Every example job in configs/jobs is a valid spec text (its data and models are the user's, so
// only ppo.yaml, written for the local cluster, is planned above).
TEST_F(JobSpecReaderTest, EveryExampleJobInConfigsParses) {
  const char* source_dir = std::getenv("PLUMB_SOURCE_DIR");
  const fs::path folder = fs::path(source_dir != nullptr ? source_dir : ".") / "configs" / "jobs";
  int files = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<v1::JobSpec> spec = ParseJobSpecText(text.str(), entry.path().string());
    EXPECT_TRUE(spec.ok()) << spec.status();
  }
  EXPECT_GE(files, 4);
}

// Offline stages need a tokenizer: "byte", a path, or the base checkpoint's folder.
TEST_F(JobSpecReaderTest, OfflineStagesNeedATokenizerTheCoordinatorCanRead) {
  const std::string sft = R"({"name": "s", "kind": "JOB_KIND_SFT",
    "stages": [{"kind": "STAGE_KIND_SFT", "models": {"policyCheckpoint": "base"},
                "trainData": [{"path": "prompts/plain.jsonl",
                               "format": "DATASET_FORMAT_PROMPT_COMPLETION"}],
                "training": {"algorithm": "ALGORITHM_SFT"}}]})";
  absl::StatusOr<JobPlan> plan = Plan(sft);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("tokenization.tokenizer"));
  std::string with_byte = sft;
  with_byte.insert(with_byte.find("\"stages\""), R"("tokenization": {"tokenizer": "byte"}, )");
  plan = Plan(with_byte);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->tokenization.tokenizer, "byte");
  EXPECT_EQ(plan->tokenization.max_length, 512);
  EXPECT_EQ(plan->tokenization.max_prompt_length, 256);
  EXPECT_TRUE(plan->tokenization.add_eos);
  std::string missing = sft;
  missing.insert(missing.find("\"stages\""), R"("tokenization": {"tokenizer": "no/such"}, )");
  plan = Plan(missing);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobSpecReaderTest, AnExplicitOutputDirResolvesEachStagesOutputCheckpoint) {
  absl::StatusOr<JobPlan> plan =
      Plan(With("base_checkpoint: base", "base_checkpoint: base\noutput_dir: runs/a"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->output_dir, (root_ / "ckpt" / "runs" / "a").string());
  EXPECT_EQ(plan->stages[0].models.output_checkpoint,
            (root_ / "ckpt" / "runs" / "a" / "stage-0").string());
}

void ExpectRefused(const absl::StatusOr<JobPlan>& plan, absl::StatusCode code,
                   const std::string& part) {
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), code) << plan.status();
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr(part));
}

TEST_F(JobSpecReaderTest, AnUnknownFieldIsRefusedNamingItAndTheSource) {
  absl::StatusOr<JobPlan> plan =
      Plan(With("    training:", "    trainig:\n      algorithm: ALGORITHM_PPO\n    training:"));
  ExpectRefused(plan, absl::StatusCode::kInvalidArgument, "spec.yaml: stages[0].trainig: ");
}

TEST_F(JobSpecReaderTest, AnUnknownKindNameIsRefused) {
  ExpectRefused(Plan(With("kind: JOB_KIND_PPO", "kind: JOB_KIND_PPOO")),
                absl::StatusCode::kInvalidArgument, "JOB_KIND_PPOO");
}

TEST_F(JobSpecReaderTest, AnEnumNumberTheProtoDoesNotDeclareIsRefusedNamingTheField) {
  ExpectRefused(Plan(With("  - kind: STAGE_KIND_ONLINE_RL", "  - kind: 42")),
                absl::StatusCode::kInvalidArgument, "stages[0].kind");
  // The same check on a spec that arrives as a proto (SubmitJob).
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecText(kMinimalPpo, "spec.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  spec->set_kind(static_cast<v1::JobKind>(99));
  ExpectRefused(PlanFromSpec(*spec, policy_), absl::StatusCode::kInvalidArgument, "kind: 99");
}

TEST_F(JobSpecReaderTest, ANegativeLearningRateIsRefusedWithItsPath) {
  ExpectRefused(Plan(With("algorithm: ALGORITHM_PPO",
                          "algorithm: ALGORITHM_PPO\n      optimizer: {learning_rate: -0.001}")),
                absl::StatusCode::kInvalidArgument, "stages[0].training.optimizer.learning_rate");
}

TEST_F(JobSpecReaderTest, ANegativeClipRangeIsRefusedWithItsPath) {
  ExpectRefused(Plan(With("algorithm: ALGORITHM_PPO",
                          "algorithm: ALGORITHM_PPO\n      ppo: {clip_range: -0.2}")),
                absl::StatusCode::kInvalidArgument, "stages[0].training.ppo.clip_range");
}

TEST_F(JobSpecReaderTest, ADatasetPathEscapingTheDataRootsIsRefused) {
  const std::string field = "stages[0].prompt_data[0].path";
  for (const std::string& path :
       {std::string("../outside/secret.jsonl"), (root_ / "outside" / "secret.jsonl").string(),
        std::string("prompts/../../outside/secret.jsonl")}) {
    SCOPED_TRACE(path);
    absl::StatusOr<JobPlan> plan = Plan(With("path: prompts/plain.jsonl", "path: " + path));
    ExpectRefused(plan, absl::StatusCode::kInvalidArgument, field);
    EXPECT_THAT(std::string(plan.status().message()), HasSubstr("outside"));
  }
}

TEST_F(JobSpecReaderTest, ASymlinkInsideADataRootPointingOutsideIsRefused) {
  ExpectRefused(Plan(With("path: prompts/plain.jsonl", "path: escape.jsonl")),
                absl::StatusCode::kInvalidArgument, "through a symlink");
}

TEST_F(JobSpecReaderTest, ACheckpointPathOutsideTheCheckpointRootsIsRefused) {
  ExpectRefused(Plan(With("base_checkpoint: base", "base_checkpoint: ../../etc")),
                absl::StatusCode::kInvalidArgument, "base_checkpoint");
  ExpectRefused(Plan(With("base_checkpoint: base", "base_checkpoint: /etc")),
                absl::StatusCode::kInvalidArgument, "outside the coordinator's checkpoint roots");
}

TEST_F(JobSpecReaderTest, AMissingDatasetIsNotFoundNamingTheField) {
  ExpectRefused(Plan(With("path: prompts/plain.jsonl", "path: prompts/none.jsonl")),
                absl::StatusCode::kNotFound, "stages[0].prompt_data[0].path");
}

TEST_F(JobSpecReaderTest, AnAlgorithmTheStageKindDoesNotTakeIsRefused) {
  // DPO cannot train an ONLINE_RL stage.
  ExpectRefused(Plan(With("algorithm: ALGORITHM_PPO", "algorithm: ALGORITHM_DPO")),
                absl::StatusCode::kInvalidArgument,
                "stages[0].training.algorithm: ALGORITHM_DPO cannot train a "
                "STAGE_KIND_ONLINE_RL stage");
  // GRPO can, but not in a PPO job.
  ExpectRefused(Plan(With("algorithm: ALGORITHM_PPO", "algorithm: ALGORITHM_GRPO")),
                absl::StatusCode::kInvalidArgument,
                "stages[0].training.algorithm: ALGORITHM_GRPO does not match job kind");
  // A stage kind other than the job kind's.
  ExpectRefused(Plan(With("  - kind: STAGE_KIND_ONLINE_RL", "  - kind: STAGE_KIND_SFT")),
                absl::StatusCode::kInvalidArgument, "stages[0].kind: STAGE_KIND_SFT does not");
}

TEST_F(JobSpecReaderTest, ADatasetFormatThatCannotFeedTheStageIsRefused) {
  const std::string dpo = R"(
name: dpo
kind: JOB_KIND_DPO
base_checkpoint: base
stages:
  - kind: STAGE_KIND_OFFLINE_PREFERENCE
    train_data: [{path: prompts/plain.jsonl, format: DATASET_FORMAT_PLAIN_PROMPTS}]
    training: {algorithm: ALGORITHM_DPO}
)";
  ExpectRefused(Plan(dpo), absl::StatusCode::kInvalidArgument,
                "stages[0].train_data[0].format: DATASET_FORMAT_PLAIN_PROMPTS cannot feed");
}

TEST_F(JobSpecReaderTest, MoreThanThirtyTwoStagesAreRefused) {
  std::string spec = "name: many\nkind: JOB_KIND_PIPELINE\nbase_checkpoint: base\nstages:\n";
  for (int i = 0; i < 33; ++i) {
    absl::StrAppend(&spec, "  - {kind: STAGE_KIND_EVALUATION, prompt_data: [{path: ",
                    "builtin:fortunes, format: DATASET_FORMAT_PLAIN_TEXT}]}\n");
  }
  ExpectRefused(Plan(spec), absl::StatusCode::kInvalidArgument,
                "stages: a job has 1..32 stages, got 33");
}

TEST_F(JobSpecReaderTest, TwoStagesWithOneNameAreRefused) {
  const std::string spec = R"(
name: twice
kind: JOB_KIND_PIPELINE
base_checkpoint: base
stages:
  - {name: eval, kind: STAGE_KIND_EVALUATION,
     prompt_data: [{path: "builtin:fortunes", format: DATASET_FORMAT_PLAIN_TEXT}]}
  - {name: eval, kind: STAGE_KIND_EVALUATION,
     prompt_data: [{path: "builtin:fortunes", format: DATASET_FORMAT_PLAIN_TEXT}]}
)";
  ExpectRefused(Plan(spec), absl::StatusCode::kInvalidArgument,
                "stages[1].name: \"eval\" names two stages");
}

TEST_F(JobSpecReaderTest, OversizeTextIsRefusedBeforeParsing) {
  const std::string big = std::string(kMaxSpecTextBytes + 1, ' ');
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecText(big, "big.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("limited to 1048576"));
}

TEST_F(JobSpecReaderTest, NestingDeeperThanTheBoundIsRefused) {
  const std::string deep =
      "labels: " + std::string(kMaxSpecDepth + 5, '[') + std::string(kMaxSpecDepth + 5, ']');
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecText(deep, "deep.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("nested deeper than 64"));
  // 64 levels are not refused for their depth (the JSON parser then finds a list where a map
  // belongs).
  const std::string ok_depth =
      "labels: " + std::string(kMaxSpecDepth - 1, '[') + std::string(kMaxSpecDepth - 1, ']');
  EXPECT_THAT(std::string(ParseJobSpecText(ok_depth, "d.yaml").status().message()),
              Not(HasSubstr("nested deeper")));
}

TEST_F(JobSpecReaderTest, YamlAnchorsAndAliasesAreRefused) {
  const std::string bomb = R"(
name: &a bomb
labels: {x: *a}
)";
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecText(bomb, "bomb.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("anchors"));
}

TEST_F(JobSpecReaderTest, ADuplicateKeyIsRefusedWithItsPath) {
  absl::StatusOr<v1::JobSpec> spec =
      ParseJobSpecText(With("format: DATASET_FORMAT_PLAIN_PROMPTS",
                            "format: DATASET_FORMAT_PLAIN_PROMPTS\n        format: "
                            "DATASET_FORMAT_PLAIN_TEXT"),
                       "dup.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              AllOf(HasSubstr("stages[0].prompt_data[0]"), HasSubstr("\"format\" appears twice")));
}

TEST_F(JobSpecReaderTest, NonFiniteNumbersAreRefused) {
  ExpectRefused(Plan(With("algorithm: ALGORITHM_PPO",
                          "algorithm: ALGORITHM_PPO\n    sampling: {temperature: .nan}")),
                absl::StatusCode::kInvalidArgument, "not a finite number");
  // protobuf's JSON spelling of a NaN.
  ExpectRefused(Plan(With("algorithm: ALGORITHM_PPO",
                          "algorithm: ALGORITHM_PPO\n    sampling: {temperature: \"NaN\"}")),
                absl::StatusCode::kInvalidArgument, "stages[0].sampling.temperature");
}

TEST_F(JobSpecReaderTest, EveryErrorIsReportedWithItsPath) {
  const std::string spec = absl::StrReplaceAll(
      kMinimalPpo, {{"name: ppo-min", "name: bad name!\npriority: 11\nmax_retries: -2"},
                    {"base_checkpoint: base", "iterations: 3"}});
  absl::StatusOr<JobPlan> plan = Plan(spec);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()),
              AllOf(HasSubstr("name: \"bad name!\""), HasSubstr("; priority: must be in [-10, 10]"),
                    HasSubstr("max_retries: must be in [-1, 100], got -2"),
                    HasSubstr("iterations: must be 0 or 1"),
                    HasSubstr("stages[0].models.policy_checkpoint: the first stage needs")));
}

TEST_F(JobSpecReaderTest, GroupAlgorithmsNeedAtLeastTwoSamplesPerPrompt) {
  const std::string spec = absl::StrReplaceAll(
      kMinimalPpo, {{"JOB_KIND_PPO", "JOB_KIND_GRPO"}, {"ALGORITHM_PPO", "ALGORITHM_GRPO"}});
  ExpectRefused(Plan(spec), absl::StatusCode::kInvalidArgument,
                "stages[0].sampling.num_samples: must be >= 2 for ALGORITHM_GRPO");
  EXPECT_TRUE(Plan(absl::StrCat(spec, "    sampling: {num_samples: 4}\n")).ok());
}

TEST_F(JobSpecReaderTest, SchedulingValuesOutOfBoundsAreRefused) {
  const std::string spec = absl::StrCat(
      kMinimalPpo,
      "    scheduling: {prompts_per_round: 100001, rollout_batch_size: 5000, max_policy_lag: 17,"
      " rpc_timeout: -1s, retry: {max_attempts: 101}}\n");
  absl::StatusOr<JobPlan> plan = Plan(spec);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              AllOf(HasSubstr("stages[0].scheduling.prompts_per_round"),
                    HasSubstr("stages[0].scheduling.rollout_batch_size"),
                    HasSubstr("stages[0].scheduling.max_policy_lag"),
                    HasSubstr("stages[0].scheduling.rpc_timeout: must not be negative"),
                    HasSubstr("stages[0].scheduling.retry.max_attempts")));
}

TEST_F(JobSpecReaderTest, JobLevelBoundsAreRefused) {
  std::string labels = "labels: {";
  for (int i = 0; i < 17; ++i) absl::StrAppend(&labels, i == 0 ? "" : ", ", "k", i, ": v");
  labels += "}";
  const std::string spec = absl::StrReplaceAll(
      kMinimalPpo, {{"kind: JOB_KIND_PPO",
                     "kind: JOB_KIND_ITERATIVE\niterations: 1001\n" + labels + "\ndeadline: -5s"}});
  absl::StatusOr<JobPlan> plan = Plan(spec);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              AllOf(HasSubstr("iterations: must be in [0, 1000], got 1001"), HasSubstr("labels"),
                    HasSubstr("deadline: must not be negative")));
}

}  // namespace
}  // namespace plumb::coordinator
