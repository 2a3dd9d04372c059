// The core of plumb-learner, without gRPC: one training session at a time that owns the policy
// (with its value head for PPO), the AdamW optimizer and the policy version (= optimizer steps
// taken since base weights). Train calls run one update on a batch:
//   PPO          values and behaviour log-probs (no grad), KL-shaped rewards, GAE, whitened
//                advantages, then `epochs` passes of minibatches (one optimizer step each) of the
//                clipped surrogate plus the clipped value loss;
//   REJECTION_SAMPLING_SFT   the best `top_n` samples of each prompt group by reward, then one SFT
//                step on them;
//   DPO / IPO / CDPO         one step of the DPO-family loss with the caller's reference sums;
//   SFT          one step of token-mean cross-entropy on completions.
// The other algorithms of the API are refused with UNIMPLEMENTED for now.
//
// Thread safety: every method may be called from any thread; a mutex serialises them (a second
// Train while one runs is ABORTED rather than queued).
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/algorithms/dpo.h"
#include "common/algorithms/kl.h"
#include "common/model/lora.h"
#include "common/train/lr_schedule.h"
#include "common/train/train_options.h"

namespace plumb::learner {

enum class Algorithm { kSft, kPpo, kRejectionSamplingSft, kDpo };

struct PpoOptions {
  double clip_low = 0.2, clip_high = 0.2;
  std::optional<double> dual_clip;
  std::optional<double> value_clip = 0.2;
  double gamma = 1.0, lambda = 0.95;
  algorithms::KlEstimator kl_estimator = algorithms::KlEstimator::kK1;
  double kl_coef = 0.05;
  std::optional<double> kl_target;  // adaptive controller when set
  int64_t kl_horizon = 10000;
  int epochs = 4;
  int minibatch_size = 0;  // sequences per optimizer step; 0 = the whole batch
  double value_loss_coef = 0.1;
  bool whiten_advantages = true;
  std::optional<double> reward_clip;
};

struct RejectionSamplingOptions {
  int top_n = 1;
  std::optional<double> min_reward;
  bool drop_truncated = false;
};

struct SessionOptions {
  Algorithm algorithm = Algorithm::kSft;
  PpoOptions ppo;
  algorithms::DpoOptions dpo;
  RejectionSamplingOptions rejection_sampling;
  train::OptimizerOptions optimizer;
  train::ScheduleOptions schedule;
  int64_t total_steps = 0;  // decay horizon of the schedule
  double max_grad_norm = 1.0;
  int micro_batch_size = 0;         // 0 = a whole minibatch per forward pass
  int64_t max_sequence_length = 0;  // 0 = the model's context
  uint64_t seed = 0;
  bool bf16_mixed = false;
  std::optional<model::LoraOptions> lora;
  std::string policy_path;  // a Hugging Face model folder or a learner checkpoint
  std::string dtype = "float32";
  std::string device = "cpu";
};

struct Experience {
  std::string group;  // prompt group (request id + prompt id)
  std::vector<int64_t> prompt, response;
  std::vector<float> logprobs;  // behaviour log-probs; empty = recompute
  std::vector<float> ref_logprobs;
  double reward = 0;
  bool stopped = true;  // finished with a stop token
};

struct PreferenceExample {
  std::string id;
  std::vector<int64_t> prompt, chosen, rejected;
  std::optional<double> ref_chosen, ref_rejected;
};

struct SftExample {
  std::string id;
  std::vector<int64_t> prompt, completion;
  double weight = 1.0;
};

struct TrainStats {
  std::map<std::string, double> losses;
  std::optional<double> kl, clip_fraction, value_error, reward_mean, reward_std, kl_coef;
  double grad_norm = 0, learning_rate = 0, seconds = 0;
  uint64_t tokens = 0, sequences = 0, policy_version = 0;
  uint32_t optimizer_steps = 0;
  std::map<std::string, double> metrics;
};

struct SessionStatus {
  std::string id;
  bool active = false;
  uint64_t policy_version = 0;
  uint64_t optimizer_steps = 0;
  uint64_t train_calls = 0;
  std::string error;
};

struct PolicyWeights {
  std::map<std::string, at::Tensor> tensors;  // HF names, CPU, LoRA merged
  uint64_t version = 0;
};

class LearnerCore {
 public:
  LearnerCore();
  ~LearnerCore();

  // Loads the policy and builds the optimizer. FAILED_PRECONDITION when a session is active
  // unless `replace_active`; an active session started with the same non-empty key is returned.
  absl::StatusOr<SessionStatus> StartSession(const SessionOptions& options,
                                             const std::string& session_key, bool replace_active,
                                             bool* created);
  absl::StatusOr<TrainStats> TrainExperience(const std::string& session,
                                             const std::vector<Experience>& batch,
                                             double temperature);
  absl::StatusOr<TrainStats> TrainPreference(const std::string& session,
                                             const std::vector<PreferenceExample>& batch);
  absl::StatusOr<TrainStats> TrainSft(const std::string& session,
                                      const std::vector<SftExample>& batch);
  // The policy weights at an optimizer-step boundary, in `dtype`.
  absl::StatusOr<PolicyWeights> Weights(const std::string& session, c10::ScalarType dtype);
  absl::StatusOr<uint64_t> SaveCheckpoint(const std::string& session, const std::string& path,
                                          bool weights_only, bool overwrite);
  absl::StatusOr<uint64_t> LoadCheckpoint(const std::string& session, const std::string& path,
                                          bool weights_only);
  absl::StatusOr<uint64_t> EndSession(const std::string& session);
  std::optional<SessionStatus> Status() const;
  // The active session's model config, if any.
  std::optional<model::ModelConfig> ModelConfigOf() const;

 private:
  struct Session;
  absl::StatusOr<Session*> Find(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<SessionStatus> StatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::unique_ptr<Session> session_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> training_{false};
};

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CORE_H_
