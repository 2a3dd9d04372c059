// PPO's separate critic (CRITIC_KIND_SEPARATE): a second Transformer whose value head predicts
// the returns, initialised from value_checkpoint (typically the reward model, as in InstructGPT,
// Llama 2 and OpenRLHF) and trained by its own AdamW at critic_learning_rate. The policy's value
// head is then unused.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/hf_config.h"
#include "common/checkpoint/sharded_checkpoint.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/mixed_precision.h"
#include "common/status/status_macros.h"
#include "common/train/optimizer.h"
#include "common/train/sequence_scoring.h"
#include "common/train/training_checkpoint.h"
#include "services/plumb-learner/learner_session.h"

namespace plumb::learner {

namespace fs = std::filesystem;

namespace {
// Marks a critic/ folder written by SaveCritic: its value head is trained.
constexpr char kCriticMarker[] = "plumb_trained_critic";
}  // namespace

absl::Status LearnerCore::Session::LoadCritic(const fs::path& dir,
                                              const model::ModelPlacement& placement,
                                              uint64_t seed) {
  ASSIGN_OR_RETURN(model::ModelConfig config, checkpoint::ReadHfConfig(dir / "config.json"));
  const model::ModelConfig& policy_config = policy->config();
  if (config.vocab_size != policy_config.vocab_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "value_checkpoint: a vocabulary of ", config.vocab_size, " tokens; the policy's has ",
        policy_config.vocab_size, " (the critic reads the policy's token ids)"));
  }
  if (config.max_position_embeddings < policy_config.max_position_embeddings) {
    return absl::FailedPreconditionError(absl::StrCat(
        "value_checkpoint: a context of ", config.max_position_embeddings,
        " positions, shorter than the policy's ", policy_config.max_position_embeddings));
  }
  ASSIGN_OR_RETURN(checkpoint::TensorMap tensors, checkpoint::ReadSafetensorsCheckpoint(dir));
  // A reward model has no LM head; the critic never uses one, so it gets a stand-in.
  if (!config.tie_word_embeddings && tensors.count("lm_head.weight") == 0 &&
      tensors.count("model.embed_tokens.weight") > 0) {
    tensors["lm_head.weight"] = tensors.at("model.embed_tokens.weight").clone();
  }
  // A critic the learner saved keeps its trained value head; a reward model's value head (Plumb
  // saves one with every model) is untrained, so its reward head is the better start.
  std::optional<at::Tensor> value_head;
  std::error_code ec;
  const bool trained_critic = fs::exists(dir / kCriticMarker, ec);
  auto value = tensors.find("value_head.weight");
  auto score = tensors.find("score.weight");
  if (trained_critic && value != tensors.end()) {
    value_head = value->second;
  } else if (score != tensors.end()) {
    value_head = score->second.narrow(0, 0, 1).clone();  // the first objective's reward head
  } else if (value != tensors.end()) {
    value_head = value->second;
  }
  critic = model::Transformer(config);
  critic->to(placement.dtype);
  RETURN_IF_ERROR(model::ImportHfTensors(*critic, std::move(tensors), dir.string()));
  {
    torch::NoGradGuard no_grad;
    at::Tensor& head = critic->value_head();
    if (value_head.has_value() && value_head->sizes() == head.sizes()) {
      head.copy_(*value_head);
    } else {
      // From the seed alone, and apart from the policy's heads (another stream of the seed).
      at::Generator fresh = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0x5eed0c1e5eed0c1eULL);
      head.copy_(at::normal(0.0, 0.02, head.sizes(), fresh));
    }
  }
  critic->to(placement.device);
  critic->train();
  critic_trainable.clear();
  for (const at::Tensor& p : critic->parameters()) {
    if (p.requires_grad()) critic_trainable.push_back(p);
  }
  train::OptimizerOptions critic_options = options.optimizer;
  critic_options.lr = options.ppo.critic_learning_rate.value_or(options.optimizer.lr);
  critic_optimizer = train::MakeAdamW(critic_trainable, critic_options);
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> LearnerCore::Session::Values(
    const std::vector<Experience>& batch, const std::vector<int64_t>& order, int64_t a, int64_t b,
    const model::ResponseScores& policy_scores) {
  if (!critic) return policy->Values(policy_scores.hidden).to(torch::kFloat);
  std::vector<std::vector<int64_t>> prompts, responses;
  for (int64_t i = a; i < b; ++i) {
    prompts.push_back(batch[order[i]].prompt);
    responses.push_back(batch[order[i]].response);
  }
  model::Bf16AutocastScope autocast(options.bf16_mixed, options.device != "cpu");
  ASSIGN_OR_RETURN(model::ResponseScores scores,
                   model::ScoreResponses(*critic, prompts, responses));
  return critic->Values(scores.hidden).to(torch::kFloat);
}

absl::Status LearnerCore::Session::SaveCritic(const fs::path& into, bool weights_only) {
  if (!critic) return absl::OkStatus();
  RETURN_IF_ERROR(model::SaveHfModel(*critic, into / "critic"));
  std::ofstream(into / "critic" / kCriticMarker) << "a critic saved by plumb-learner\n";
  if (weights_only) return absl::OkStatus();
  train::RunState state;
  state.step = static_cast<int64_t>(version);
  state.total_steps = options.total_steps;
  state.kind = "learner-critic";
  return train::SaveTrainingCheckpoint(into / "critic_state", *critic, *critic_optimizer, state, 1)
      .status();
}

absl::Status LearnerCore::Session::LoadCriticCheckpoint(const fs::path& dir, bool weights_only) {
  if (!critic) return absl::OkStatus();
  std::error_code ec;
  if (!fs::exists(dir / "critic" / "config.json", ec)) {
    if (weights_only) return absl::OkStatus();
    return absl::FailedPreconditionError(
        "the checkpoint has no critic/ (it was not saved by a session with a separate critic); "
        "load it with weights_only to keep the current critic");
  }
  if (weights_only) {
    ASSIGN_OR_RETURN(checkpoint::TensorMap tensors,
                     checkpoint::ReadSafetensorsCheckpoint(dir / "critic"));
    torch::NoGradGuard no_grad;
    return model::ImportHfTensors(*critic, std::move(tensors), (dir / "critic").string());
  }
  std::optional<fs::path> latest = train::LatestCheckpoint(dir / "critic_state");
  if (!latest.has_value()) {
    return absl::FailedPreconditionError(
        "the checkpoint holds the critic's weights only (load it with weights_only)");
  }
  return train::LoadTrainingCheckpoint(*latest, *critic, *critic_optimizer).status();
}

void LearnerCore::Session::ZeroGrad() {
  optimizer->zero_grad();
  if (critic_optimizer != nullptr) critic_optimizer->zero_grad();
}

}  // namespace plumb::learner
