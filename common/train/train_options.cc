#include "common/train/train_options.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/config_map.h"
#include "common/status/status_macros.h"

namespace plumb::train {
namespace {

using config::ConfigMap;
using config::DoubleRange;
using config::IntRange;

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path == "byte" || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

// Calls parse(section) when `key` is present.
template <typename Fn>
absl::Status WithChild(ConfigMap& root, absl::string_view key, Fn&& parse) {
  ASSIGN_OR_RETURN(std::optional<ConfigMap> child, root.Child(key));
  if (!child.has_value()) return absl::OkStatus();
  RETURN_IF_ERROR(parse(*child));
  return child->Finish();
}

absl::Status ParseModel(ConfigMap& m, const std::string& base_dir, ModelOptions* o) {
  RETURN_IF_ERROR(m.Read("path", &o->path));
  if (o->path.empty()) return m.Error("path", "is required: the model folder to train");
  o->path = Resolve(base_dir, o->path);
  RETURN_IF_ERROR(m.ReadChoice("dtype", &o->dtype, {"float32", "fp32", "bfloat16", "bf16"}));
  RETURN_IF_ERROR(m.Read("device", &o->device));
  RETURN_IF_ERROR(m.Read("reward_outputs", &o->reward_outputs, IntRange{-1, 64}));
  RETURN_IF_ERROR(m.Read("gradient_checkpointing", &o->gradient_checkpointing));
  return WithChild(m, "lora", [&](ConfigMap& lora) {
    o->lora.emplace();
    return model::ParseLoraOptions(lora, &*o->lora);
  });
}

absl::Status ParseLoop(ConfigMap& m, LoopOptions* o) {
  RETURN_IF_ERROR(m.Read("steps", &o->steps, IntRange{1, int64_t{1} << 40}));
  RETURN_IF_ERROR(m.Read("batch_size", &o->batch_size, IntRange{1, 1 << 24}));
  RETURN_IF_ERROR(m.Read("micro_batch_size", &o->micro_batch_size, IntRange{0, 1 << 24}));
  RETURN_IF_ERROR(m.Read("max_grad_norm", &o->max_grad_norm, DoubleRange{0.0}));
  RETURN_IF_ERROR(m.Read("bf16_autocast", &o->bf16_autocast));
  int64_t seed = 0;
  RETURN_IF_ERROR(m.Read("seed", &seed, IntRange{0}));
  o->seed = static_cast<uint64_t>(seed);
  return m.Read("threads", &o->threads, IntRange{0, 1024});
}

absl::Status ParseOptimizer(ConfigMap& m, OptimizerOptions* o) {
  RETURN_IF_ERROR(m.Read("lr", &o->lr, DoubleRange{0.0, 10.0, true}));
  RETURN_IF_ERROR(m.Read("beta1", &o->beta1, DoubleRange{0.0, 1.0}));
  RETURN_IF_ERROR(m.Read("beta2", &o->beta2, DoubleRange{0.0, 1.0}));
  RETURN_IF_ERROR(m.Read("eps", &o->eps, DoubleRange{0.0, 1.0, true}));
  return m.Read("weight_decay", &o->weight_decay, DoubleRange{0.0, 1.0});
}

absl::Status ParseObjectiveSection(ConfigMap& root, ObjectiveOptions* o) {
  // Only the section of the chosen kind may appear: settings for another kind would be ignored.
  for (const char* kind : {"sft", "dpo", "kto", "orpo", "simpo", "rrhf", "reward_model"}) {
    if (kind != o->kind && root.Has(kind)) {
      return root.Error(kind, absl::StrCat("applies to kind '", kind, "', but this job's kind is '",
                                           o->kind, "'; remove the section or change kind"));
    }
  }
  RETURN_IF_ERROR(
      WithChild(root, "sft", [&](ConfigMap& m) { return m.Read("packing", &o->sft.packing); }));
  RETURN_IF_ERROR(WithChild(root, "dpo", [&](ConfigMap& m) -> absl::Status {
    RETURN_IF_ERROR(
        m.ReadChoice("loss_type", &o->dpo.loss_type, {"sigmoid", "hinge", "ipo", "robust"}));
    RETURN_IF_ERROR(m.Read("beta", &o->dpo.beta, DoubleRange{0.0, 1e6, true}));
    RETURN_IF_ERROR(m.Read("label_smoothing", &o->dpo.label_smoothing, DoubleRange{0.0, 0.5}));
    RETURN_IF_ERROR(m.Read("reference_free", &o->dpo.reference_free));
    RETURN_IF_ERROR(m.ReadChoice("ipo_log_ratio", &o->dpo.ipo_log_ratio, {"sum", "mean"}));
    RETURN_IF_ERROR(m.Read("sft_weight", &o->dpo_sft_weight, DoubleRange{0.0, 1e6}));
    if (o->dpo.label_smoothing >= 0.5) {
      return m.Error("label_smoothing", "must be below 0.5 (the probability a label is flipped)");
    }
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(WithChild(root, "kto", [&](ConfigMap& m) -> absl::Status {
    RETURN_IF_ERROR(m.Read("beta", &o->kto.beta, DoubleRange{0.0, 1e6, true}));
    RETURN_IF_ERROR(m.Read("desirable_weight", &o->kto.desirable_weight, DoubleRange{0.0}));
    RETURN_IF_ERROR(m.Read("undesirable_weight", &o->kto.undesirable_weight, DoubleRange{0.0}));
    return m.ReadChoice("kl_average", &o->kto.kl_average, {"all_rows", "nonzero_rows"});
  }));
  RETURN_IF_ERROR(WithChild(root, "orpo", [&](ConfigMap& m) {
    return m.Read("beta", &o->orpo_beta, DoubleRange{0.0, 1e6, true});
  }));
  RETURN_IF_ERROR(WithChild(root, "simpo", [&](ConfigMap& m) -> absl::Status {
    RETURN_IF_ERROR(m.Read("beta", &o->simpo.beta, DoubleRange{0.0, 1e6, true}));
    RETURN_IF_ERROR(m.Read("gamma", &o->simpo.gamma, DoubleRange{0.0}));
    RETURN_IF_ERROR(m.Read("cpo_alpha", &o->simpo.cpo_alpha, DoubleRange{0.0}));
    return m.Read("label_smoothing", &o->simpo.label_smoothing, DoubleRange{0.0, 0.5});
  }));
  RETURN_IF_ERROR(WithChild(root, "rrhf", [&](ConfigMap& m) -> absl::Status {
    RETURN_IF_ERROR(m.Read("rrhf_weight", &o->rrhf.rrhf_weight, DoubleRange{0.0}));
    RETURN_IF_ERROR(m.Read("sft_weight", &o->rrhf_sft_weight, DoubleRange{0.0, 1e6}));
    RETURN_IF_ERROR(m.Read("length_penalty", &o->rrhf.length_penalty, DoubleRange{0.0}));
    RETURN_IF_ERROR(m.ReadChoice("length_mode", &o->rrhf.length_mode, {"response", "padded"}));
    return m.ReadChoice("sft_reduction", &o->rrhf.sft_reduction, {"padded_mean", "sum"});
  }));
  return WithChild(root, "reward_model", [&](ConfigMap& m) -> absl::Status {
    RETURN_IF_ERROR(m.Read("output_index", &o->reward_model.output_index, IntRange{0, 63}));
    RETURN_IF_ERROR(m.Read("use_margin", &o->reward_model.use_margin));
    return m.Read("center_rewards_coefficient", &o->reward_model.center_rewards_coefficient,
                  DoubleRange{0.0});
  });
}

}  // namespace

absl::StatusOr<TrainOptions> ParseTrainOptions(const std::string& yaml, const std::string& source,
                                               const std::string& base_dir) {
  ASSIGN_OR_RETURN(ConfigMap root, ConfigMap::FromString(yaml, source));
  TrainOptions o;
  o.config_path = source;
  RETURN_IF_ERROR(root.ReadChoice("kind", &o.objective.kind, ObjectiveKinds()));
  if (o.objective.kind.empty()) {
    return root.Error("kind",
                      absl::StrCat("is required; one of ", absl::StrJoin(ObjectiveKinds(), ", ")));
  }
  {
    ASSIGN_OR_RETURN(std::optional<ConfigMap> model, root.Child("model"));
    if (!model.has_value()) return root.Error("model", "is required (model.path: a model folder)");
    RETURN_IF_ERROR(ParseModel(*model, base_dir, &o.model));
    RETURN_IF_ERROR(model->Finish());
  }
  RETURN_IF_ERROR(WithChild(root, "reference", [&](ConfigMap& m) -> absl::Status {
    std::string path;
    RETURN_IF_ERROR(m.Read("path", &path));
    if (!path.empty()) o.reference_path = Resolve(base_dir, path);
    return absl::OkStatus();
  }));
  o.tokenization.tokenizer = o.model.path;
  RETURN_IF_ERROR(WithChild(root, "tokenization", [&](ConfigMap& m) -> absl::Status {
    RETURN_IF_ERROR(ParseEncoderOptions(m, &o.tokenization));
    o.tokenization.tokenizer = Resolve(base_dir, o.tokenization.tokenizer);
    return absl::OkStatus();
  }));
  {
    ASSIGN_OR_RETURN(std::optional<ConfigMap> data, root.Child("data"));
    if (!data.has_value()) return root.Error("data", "is required (data.path and data.format)");
    ASSIGN_OR_RETURN(o.data, data::ParseDatasetOptions(*data, base_dir));
  }
  RETURN_IF_ERROR(
      WithChild(root, "training", [&](ConfigMap& m) { return ParseLoop(m, &o.training); }));
  RETURN_IF_ERROR(
      WithChild(root, "optimizer", [&](ConfigMap& m) { return ParseOptimizer(m, &o.optimizer); }));
  {
    ASSIGN_OR_RETURN(std::optional<ConfigMap> schedule, root.Child("schedule"));
    if (schedule.has_value()) RETURN_IF_ERROR(ParseScheduleOptions(*schedule, &o.schedule));
  }
  RETURN_IF_ERROR(WithChild(root, "eval", [&](ConfigMap& m) -> absl::Status {
    RETURN_IF_ERROR(m.Read("every", &o.eval.every, IntRange{0}));
    RETURN_IF_ERROR(m.Read("max_examples", &o.eval.max_examples, IntRange{1}));
    return m.Read("batch_size", &o.eval.batch_size, IntRange{1, 1 << 20});
  }));
  RETURN_IF_ERROR(WithChild(root, "checkpoint", [&](ConfigMap& m) -> absl::Status {
    RETURN_IF_ERROR(m.Read("dir", &o.checkpoint.dir));
    o.checkpoint.dir = Resolve(base_dir, o.checkpoint.dir);
    RETURN_IF_ERROR(m.Read("every", &o.checkpoint.every, IntRange{0}));
    RETURN_IF_ERROR(m.Read("keep", &o.checkpoint.keep, IntRange{1}));
    return m.Read("resume", &o.checkpoint.resume);
  }));
  RETURN_IF_ERROR(WithChild(root, "logging", [&](ConfigMap& m) -> absl::Status {
    RETURN_IF_ERROR(m.Read("metrics_file", &o.logging.metrics_file));
    o.logging.metrics_file = Resolve(base_dir, o.logging.metrics_file);
    RETURN_IF_ERROR(m.Read("every", &o.logging.every, IntRange{1}));
    return m.Read("progress", &o.logging.progress);
  }));
  if (o.logging.metrics_file.empty() && !o.checkpoint.dir.empty()) {
    o.logging.metrics_file = (std::filesystem::path(o.checkpoint.dir) / "metrics.jsonl").string();
  }
  RETURN_IF_ERROR(WithChild(root, "distributed", [&](ConfigMap& m) -> absl::Status {
    RETURN_IF_ERROR(m.ReadChoice("backend", &o.distributed.backend, {"gloo", "nccl"}));
    absl::Duration timeout = absl::Minutes(5);
    RETURN_IF_ERROR(m.Read("timeout", &timeout, absl::Seconds(1)));
    o.distributed.timeout = std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout));
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(ParseObjectiveSection(root, &o.objective));
  if (o.objective.kind != "dpo" && o.objective.kind != "kto" && o.reference_path.has_value()) {
    return root.Error("reference", absl::StrCat("kind '", o.objective.kind,
                                                "' uses no reference model; remove the section"));
  }
  RETURN_IF_ERROR(root.Finish());
  return o;
}

absl::StatusOr<TrainOptions> ReadTrainOptions(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the training config"));
  std::stringstream text;
  text << in.rdbuf();
  const std::string base = std::filesystem::path(path).parent_path().string();
  return ParseTrainOptions(text.str(), path, base.empty() ? "." : base);
}

}  // namespace plumb::train
