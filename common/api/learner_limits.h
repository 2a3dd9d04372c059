// The documented bounds of plumb-learner's inputs (learner.proto repeats them at each field).
// Every size-like option and every repeated request field is checked against these before any
// work, so that no request can make the learner run for hours or allocate without bound; values
// outside them are INVALID_ARGUMENT naming the field.
#ifndef PLUMB_COMMON_API_LEARNER_LIMITS_H_
#define PLUMB_COMMON_API_LEARNER_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace plumb::learner {

// TrainingConfig.
inline constexpr int kMaxEpochs = 100;            // ppo / grpo / rloo epochs
inline constexpr int64_t kMaxBatchItems = 65536;  // items of one Train batch
inline constexpr int kMaxGradientAccumulationSteps = 1024;
inline constexpr int kMaxTopN = 1024;                        // rejection_sampling.top_n_per_prompt
inline constexpr int64_t kMaxSequenceLength = 1 << 20;       // max_sequence_length, in tokens
inline constexpr int64_t kMaxScheduleSteps = 1'000'000'000;  // total_steps, warmup_steps
inline constexpr int64_t kMaxKlHorizon = 1'000'000'000'000;  // ppo.kl.adaptive.horizon
inline constexpr int kMaxLoraRank = 1024;
inline constexpr int kMaxLoraTargets = 64;
// Real-valued options (learning rates, coefficients, clip ranges) must be finite and at most
// this in magnitude unless a tighter range is stated.
inline constexpr double kMaxCoefficient = 1e6;

// Requests.
inline constexpr int kMaxRankedResponses = 64;             // responses of one RankedGroup
inline constexpr int64_t kMaxTokensPerSequence = 1 << 20;  // any one token-id list
inline constexpr size_t kMaxIdBytes = 256;                 // pair / example / group / prompt ids
inline constexpr size_t kMaxSessionKeyBytes = 128;
inline constexpr size_t kMaxSessionIdBytes = 128;
inline constexpr int kMaxLabels = 16;
inline constexpr size_t kMaxLabelBytes = 256;          // each label key and value
inline constexpr size_t kMaxPathBytes = 4096;          // checkpoint paths
inline constexpr size_t kMaxPathComponentBytes = 255;  // one folder name in a path
inline constexpr int kMaxPublishTargets = 64;
inline constexpr double kMinTemperature = 1e-4, kMaxTemperature = 1e4;
inline constexpr double kMaxAbsReward = 1e6;  // Experience.reward
inline constexpr double kMaxMargin = 1e6;     // PreferencePair.margin
inline constexpr double kMaxSftWeight = 1e6;  // SftExample.weight
// Log-probs are <= 0; one token's is at least kMinTokenLogProb, a summed one at least
// kMinSequenceLogProb.
inline constexpr double kMinTokenLogProb = -1e4;
inline constexpr double kMinSequenceLogProb = -1e9;

}  // namespace plumb::learner

#endif  // PLUMB_COMMON_API_LEARNER_LIMITS_H_
