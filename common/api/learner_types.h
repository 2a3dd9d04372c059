// The batches a learner trains on and what it reports, in plain C++ types, shared by
// LearnerCore, the plumb-learner adapter and every LearnerClient (common/clients). Session options
// are in learner_options.h. No gRPC, no LibTorch.
#ifndef PLUMB_COMMON_API_LEARNER_TYPES_H_
#define PLUMB_COMMON_API_LEARNER_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace plumb::learner {

struct Experience {
  std::string group;  // prompt group (request id + prompt id)
  std::vector<int64_t> prompt, response;
  std::vector<float> logprobs;  // behaviour log-probs; empty = recompute
  std::vector<float> ref_logprobs;
  double reward = 0;
  bool stopped = true;  // finished with a stop token
  uint64_t policy_version = 0;
};

struct PreferenceExample {
  std::string id;
  std::vector<int64_t> prompt, chosen, rejected;
  std::optional<double> ref_chosen, ref_rejected;
  std::optional<double> margin;
  // Soft label: the probability in [0, 1] that `chosen` is preferred; unset = 1. REWARD_MODEL
  // trains on the cross-entropy against it; the other algorithms ignore it.
  std::optional<double> probability;
};

struct UnpairedExample {
  std::string id;
  std::vector<int64_t> prompt, completion;
  bool desirable = true;
  std::optional<double> ref_logprob, ref_kl_logprob;
};

struct RankedGroup {
  std::string id;
  std::vector<int64_t> prompt;
  std::vector<std::vector<int64_t>> responses;
  std::vector<int> ranks;  // 0 = best; equal ranks are ties
};

struct SftExample {
  std::string id;
  std::vector<int64_t> prompt, completion;
  double weight = 1.0;
};

struct TrainStats {
  std::map<std::string, double> losses;
  std::optional<double> kl, clip_fraction, entropy, value_error, reward_mean, reward_std, kl_coef;
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

struct CheckpointInfo {
  std::string path;  // absolute
  uint64_t version = 0;
};

}  // namespace plumb::learner

#endif  // PLUMB_COMMON_API_LEARNER_TYPES_H_
