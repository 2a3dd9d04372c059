#include "common/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/hf_config.h"
#include "common/checkpoint/sharded_checkpoint.h"
#include "common/data/jsonl_dataset.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/lora.h"
#include "common/status/status_macros.h"
#include "common/status/torch_status.h"
#include "common/tokenizer/load_tokenizer.h"
#include "common/train/lr_schedule.h"
#include "common/train/objectives.h"
#include "common/train/optimizer.h"
#include "common/train/progress_report.h"
#include "common/train/training_checkpoint.h"

namespace plumb::train {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<model::Transformer> LoadPolicy(const ModelOptions& options,
                                              const model::ModelPlacement& placement) {
  const fs::path dir(options.path);
  ASSIGN_OR_RETURN(model::ModelConfig config, checkpoint::ReadHfConfig(dir / "config.json"));
  if (options.reward_outputs >= 0) config.num_reward_outputs = options.reward_outputs;
  ASSIGN_OR_RETURN(checkpoint::TensorMap tensors, checkpoint::ReadSafetensorsCheckpoint(dir));
  model::Transformer model(config);
  model->to(placement.dtype);
  RETURN_IF_ERROR(model::ImportHfTensors(*model, std::move(tensors), dir.string()));
  model->to(placement.device);
  return model;
}

void CopyTokenizerFiles(const std::string& source, const fs::path& out) {
  std::error_code ec;
  fs::path dir(source);
  if (fs::is_regular_file(dir)) {
    fs::copy_file(dir, out / "tokenizer.json", fs::copy_options::overwrite_existing, ec);
    return;
  }
  for (const char* name :
       {"tokenizer.json", "tokenizer_config.json", "encoder.json", "vocab.bpe"}) {
    if (fs::exists(dir / name)) {
      fs::copy_file(dir / name, out / name, fs::copy_options::overwrite_existing, ec);
    }
  }
}

// The malformed lines skipped under `on_malformed: skip`, by reason, with the first messages, and
// the sequences truncated to tokenization.max_length, by what was cut.
void ReportDataStats(const data::DatasetStats& stats, const TruncationCounts& cut,
                     ProgressReport& report) {
  std::string line = absl::StrCat("data: ", stats.lines_read, " training lines read, ",
                                  stats.lines_skipped, " malformed lines skipped");
  for (const auto& [reason, count] : stats.skipped_by_reason) {
    absl::StrAppend(&line, line.back() == 'd' ? " (" : ", ", reason, ": ", count);
  }
  if (!stats.skipped_by_reason.empty()) line += ")";
  report.Note(line);
  for (const std::string& message : stats.first_messages) report.Note("  skipped " + message);
  report.Note(absl::StrCat("data: ", cut.sequences, " training sequences, ", cut.prompts_cut,
                           " with the prompt truncated, ", cut.responses_cut,
                           " with the response truncated (tokenization.max_length; "
                           "tokenization.truncation: error refuses them instead)"));
}

}  // namespace

struct Trainer::State {
  TrainOptions options;
  World* world = nullptr;
  model::ModelPlacement placement;
  model::Transformer policy{nullptr};
  model::Transformer reference{nullptr};
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<ExampleEncoder> encoder;
  std::unique_ptr<data::JsonlDataset> dataset;
  std::vector<data::Example> eval_examples;
  std::unique_ptr<TrainingObjective> objective;
  std::vector<at::Tensor> trainable;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  RunState run;
  std::unique_ptr<ProgressReport> report;
  // Training sequences encoded and cut by this run: this rank's, and the sum over ranks as of
  // the last report (summed only when reporting, to keep a collective off every step).
  TruncationCounts trained_here, trained;
};

Trainer::Trainer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(TrainOptions options, World* world) {
  // plumb-train's model boundary for setting up: nothing LibTorch throws leaves Create.
  std::string doing = "setting up the run";
  return TorchBoundary(doing, [&] { return CreateWithin(std::move(options), world, &doing); });
}

absl::StatusOr<TrainResult> Trainer::Run(std::optional<int64_t> stop_at_step) {
  // ... and for training: `doing` names the step or phase that failed.
  std::string doing = "training";
  return TorchBoundary(doing, [&] { return RunWithin(stop_at_step, &doing); });
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::CreateWithin(TrainOptions options, World* world,
                                                               std::string* doing) {
  auto s = std::make_unique<State>();
  s->world = world;
  const int threads = options.training.threads > 0
                          ? options.training.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) /
                                            std::max(1, world->size()));
  at::set_num_threads(threads);
  torch::manual_seed(options.training.seed);
  ASSIGN_OR_RETURN(s->placement, model::ParsePlacement(options.model.dtype, options.model.device));
  *doing = absl::StrCat("loading the policy ", options.model.path);
  ASSIGN_OR_RETURN(s->policy, LoadPolicy(options.model, s->placement));
  if (options.model.lora.has_value()) {
    RETURN_IF_ERROR(model::ApplyLora(*s->policy, *options.model.lora));
  }
  s->policy->set_gradient_checkpointing(options.model.gradient_checkpointing);
  s->policy->train();
  if (NeedsReference(options.objective)) {
    const std::string ref = options.reference_path.value_or(options.model.path);
    *doing = absl::StrCat("loading the reference ", ref);
    ASSIGN_OR_RETURN(s->reference, model::LoadHfModel(ref, s->placement));
    for (at::Tensor& p : s->reference->parameters()) p.set_requires_grad(false);
  }
  *doing = "setting up the run";
  ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::Tokenizer> tok,
                   tokenizer::LoadTokenizer(options.tokenization.tokenizer));
  if (tok->vocab_size() > s->policy->config().vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer ", options.tokenization.tokenizer, " has ", tok->vocab_size(),
                     " tokens but the model's vocabulary is ", s->policy->config().vocab_size));
  }
  s->tokenizer = std::move(tok);
  EncoderOptions encoder_options = options.tokenization;
  encoder_options.max_length =
      std::min(encoder_options.max_length, s->policy->config().max_position_embeddings);
  encoder_options.max_prompt_length =
      std::min(encoder_options.max_prompt_length, encoder_options.max_length - 1);
  s->encoder = std::make_unique<ExampleEncoder>(s->tokenizer, encoder_options);
  ASSIGN_OR_RETURN(s->dataset, data::JsonlDataset::Open(options.data));
  if (s->dataset->train_size() == 0) {
    return absl::InvalidArgumentError("the training split of the data is empty");
  }
  if (world->is_primary() && s->dataset->eval_size() > 0) {
    ASSIGN_OR_RETURN(s->eval_examples, s->dataset->ReadEval(options.eval.max_examples));
  }
  ObjectiveModels models{s->policy.get(), s->reference ? s->reference.get() : nullptr,
                         s->placement.device.is_cuda()};
  ASSIGN_OR_RETURN(s->objective, MakeObjective(options.objective, models, s->encoder.get()));
  s->trainable = model::TrainableParameters(*s->policy);
  s->optimizer = MakeAdamW(s->trainable, options.optimizer);
  // Ranks start from identical weights (LoRA and fresh heads are seeded, but be certain).
  RETURN_IF_ERROR(world->Broadcast(s->trainable));

  s->run.total_steps = options.training.steps;
  s->run.kind = options.objective.kind;
  s->run.world_size = world->size();
  s->run.batch_size = options.training.batch_size;
  if (options.training.batch_size % world->size() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("training.batch_size ", options.training.batch_size,
                     " must be a multiple of the ", world->size(), " data-parallel ranks"));
  }
  if (!options.checkpoint.dir.empty() && options.checkpoint.resume) {
    if (std::optional<fs::path> latest = LatestCheckpoint(options.checkpoint.dir)) {
      *doing = absl::StrCat("resuming from ", latest->string());
      ASSIGN_OR_RETURN(RunState saved, LoadTrainingCheckpoint(*latest, *s->policy, *s->optimizer));
      if (saved.kind != s->run.kind || saved.batch_size != s->run.batch_size) {
        return absl::FailedPreconditionError(absl::StrCat(
            latest->string(), " was written by a '", saved.kind, "' run with batch_size ",
            saved.batch_size, "; this run is '", s->run.kind, "' with batch_size ",
            s->run.batch_size, " (use another checkpoint.dir or resume: false)"));
      }
      RETURN_IF_ERROR(s->dataset->LoadState(saved.data_state));
      s->run.step = saved.step;
      s->run.tokens_seen = saved.tokens_seen;
    }
  }
  s->report = std::make_unique<ProgressReport>(
      world->is_primary(), options.logging.progress ? &std::cerr : nullptr,
      options.logging.metrics_file, options.objective.kind);
  RETURN_IF_ERROR(s->report->Open(s->run.step > 0));
  s->options = std::move(options);
  return std::unique_ptr<Trainer>(new Trainer(std::move(s)));
}

absl::StatusOr<TrainResult> Trainer::RunWithin(std::optional<int64_t> stop_at_step,
                                               std::string* doing) {
  State& s = *state_;
  const TrainOptions& o = s.options;
  TrainResult result;
  result.resumed_from = s.run.step;
  auto evaluate = [&](std::map<std::string, double>* out) -> absl::Status {
    if (!s.world->is_primary() || s.eval_examples.empty()) return absl::OkStatus();
    StatSums stats;
    *doing = absl::StrCat("evaluation after step ", s.run.step);
    RETURN_IF_ERROR(s.objective->Evaluate(s.eval_examples, o.eval.batch_size, &stats));
    *out = stats.Means();
    return s.report->Eval(s.run.step, *out);
  };
  auto checkpoint = [&]() -> absl::Status {
    if (o.checkpoint.dir.empty()) return absl::OkStatus();
    *doing = absl::StrCat("checkpoint at step ", s.run.step);
    if (s.world->is_primary()) {
      RunState snapshot = s.run;
      snapshot.data_state = s.dataset->SaveState();
      snapshot.tokens_seen += s.objective->tokens_seen() * s.world->size();
      ASSIGN_OR_RETURN(fs::path written,
                       SaveTrainingCheckpoint(o.checkpoint.dir, *s.policy, *s.optimizer, snapshot,
                                              o.checkpoint.keep));
      s.report->Note(absl::StrCat("checkpoint ", written.string()));
    }
    return s.world->Barrier();
  };

  RETURN_IF_ERROR(evaluate(&result.first_eval));
  const int64_t last = std::min(o.training.steps, stop_at_step.value_or(o.training.steps));
  const int64_t share = o.training.batch_size / s.world->size();
  const int64_t micro = o.training.micro_batch_size > 0 ? o.training.micro_batch_size : share;
  s.report->Start(s.run.step, o.training.steps);
  while (s.run.step < last) {
    *doing = absl::StrCat("step ", s.run.step + 1);
    const double lr = LearningRateAt(o.optimizer.lr, s.run.step, o.training.steps, o.schedule);
    SetLearningRate(*s.optimizer, lr);
    ASSIGN_OR_RETURN(std::vector<data::Example> batch,
                     s.dataset->NextBatch(o.training.batch_size, 0, 1));
    StepContext ctx;
    ctx.world = s.world;
    ctx.batch = &batch;
    ctx.begin = s.world->rank() * share;
    ctx.end = ctx.begin + share;
    ctx.micro_batch_size = micro;
    ctx.bf16_autocast = o.training.bf16_autocast;
    StatSums stats;
    s.optimizer->zero_grad();
    const TruncationCounts before = s.encoder->counts();
    RETURN_IF_ERROR(s.objective->AccumulateGradients(ctx, &stats));
    const TruncationCounts after = s.encoder->counts();
    s.trained_here.sequences += after.sequences - before.sequences;
    s.trained_here.prompts_cut += after.prompts_cut - before.prompts_cut;
    s.trained_here.responses_cut += after.responses_cut - before.responses_cut;
    std::vector<at::Tensor> grads;
    for (const at::Tensor& p : s.trainable) {
      if (p.grad().defined()) grads.push_back(p.grad());
    }
    RETURN_IF_ERROR(s.world->AllReduceSum(grads));
    const double grad_norm = torch::nn::utils::clip_grad_norm_(
        s.trainable, o.training.max_grad_norm > 0 ? o.training.max_grad_norm
                                                  : std::numeric_limits<double>::infinity());
    if (!std::isfinite(grad_norm)) {
      return absl::InternalError(absl::StrCat("step ", s.run.step + 1,
                                              ": the gradient norm is not finite (", grad_norm,
                                              "); lower optimizer.lr"));
    }
    s.optimizer->step();
    RETURN_IF_ERROR(stats.AllReduce(*s.world));
    ++s.run.step;
    result.last_train = stats.Means();
    result.last_train["lr"] = lr;
    result.last_train["grad_norm"] = grad_norm;
    result.last_train["data/lines_skipped"] = static_cast<double>(s.dataset->stats().lines_skipped);
    result.last_train["data/epoch"] = static_cast<double>(s.dataset->cursor().epoch);
    if (s.run.step % o.logging.every == 0 || s.run.step == last) {
      // Every rank reports at the same steps, so they all join this sum.
      ASSIGN_OR_RETURN(std::vector<double> cut,
                       s.world->AllReduceSum(
                           std::vector<double>{static_cast<double>(s.trained_here.sequences),
                                               static_cast<double>(s.trained_here.prompts_cut),
                                               static_cast<double>(s.trained_here.responses_cut)}));
      s.trained = {static_cast<int64_t>(cut[0]), static_cast<int64_t>(cut[1]),
                   static_cast<int64_t>(cut[2])};
      result.last_train["data/sequences"] = cut[0];
      result.last_train["data/truncated_prompts"] = cut[1];
      result.last_train["data/truncated_responses"] = cut[2];
      RETURN_IF_ERROR(s.report->Train(s.run.step, result.last_train, o.training.batch_size,
                                      s.objective->tokens_seen() * s.world->size()));
    }
    if (o.eval.every > 0 && s.run.step % o.eval.every == 0 && s.run.step < last) {
      RETURN_IF_ERROR(evaluate(&result.last_eval));
    }
    if (o.checkpoint.every > 0 && s.run.step % o.checkpoint.every == 0 && s.run.step < last) {
      RETURN_IF_ERROR(checkpoint());
    }
  }
  RETURN_IF_ERROR(evaluate(&result.last_eval));
  RETURN_IF_ERROR(checkpoint());
  result.steps_done = s.run.step;
  ReportDataStats(s.dataset->stats(), s.trained, *s.report);
  if (!o.checkpoint.dir.empty() && s.world->is_primary() && s.run.step == o.training.steps) {
    const fs::path out = fs::path(o.checkpoint.dir) / "final";
    *doing = absl::StrCat("exporting the model to ", out.string());
    RETURN_IF_ERROR(model::SaveHfModel(*s.policy, out));
    CopyTokenizerFiles(o.tokenization.tokenizer, out);
    result.model_dir = out.string();
    s.report->Note(absl::StrCat("model written to ", out.string()));
  }
  return result;
}

}  // namespace plumb::train
