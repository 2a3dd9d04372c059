// One round of online alignment against client interfaces: the plain library functions a
// coordinator calls (and the integration test and the PPO bench use), with no gRPC in sight.
//
//   RunPolicyGradientRound  generate K samples per prompt on the generator replicas -> score +
//                           reference log-probs (in parallel) -> one Train call on the experience
//                           batch (PPO, GRPO, RLOO, REINFORCE: whichever the session trains) ->
//                           publish the new weights to the generators;
//   RunRejectionSamplingRound  generate -> score -> Train (the learner keeps the best of each
//                           prompt's samples and fine-tunes on them) -> publish;
//   RunDpoRound             generate K >= 2 samples per prompt -> score -> each prompt's best
//                           and worst sample as a pair (gaps <= min_preference_gap dropped) with
//                           the reference's summed log-probs -> one DPO-family Train call ->
//                           publish.
//
// Prompts are split across the generator replicas; a replica that fails (UNAVAILABLE, DEADLINE_
// EXCEEDED, or a broken stream) is dropped for the rest of the round and its share is generated
// again, with the same seed, on the next live replica. Any other failure ends the round with the
// phase named ("score: ..."); nothing is trained after a failed phase. Every report carries the
// quality figures that must accompany a reward gain: response length, distinct n-grams,
// truncation, and the KL to the reference.
//
// Thread safety: each call runs on the caller's thread plus short-lived worker threads; the
// clients must be thread-safe (all of common/clients are).
#ifndef PLUMB_COMMON_ROUNDS_ROUNDS_H_
#define PLUMB_COMMON_ROUNDS_ROUNDS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clients/generator_client.h"
#include "common/clients/learner_client.h"
#include "common/clients/reference_client.h"
#include "common/clients/scorer_client.h"

namespace plumb::rounds {

struct RoundClients {
  std::vector<clients::GeneratorClient*> generators;  // at least one replica
  clients::ScorerClient* scorer = nullptr;
  clients::ReferenceClient* reference = nullptr;  // unused by rejection sampling
  clients::LearnerClient* learner = nullptr;
};

struct RoundSpec {
  std::string round_id;    // request ids and prompt groups derive from it
  std::string session_id;  // the learner session, already started
  std::vector<generator::PromptInput> prompts;
  generator::SamplingRequest sampling;  // return_logprobs is forced on for policy gradients
  // The scorer objectives whose composition is the reward; empty = every configured one. One
  // objective the composition does not cover (e.g. a judge) is the reward by itself.
  std::vector<std::string> score_objectives;
  // RunDpoRound: a prompt gives a pair only when its best and worst rewards differ by more.
  double min_preference_gap = 0;
  // RunDpoRound, RunJudgedPairsRound: a round whose samples all tie is sampled again with another
  // seed up to this many times before it fails (RoundReport::resampled counts them).
  int tie_retries = 3;
  // Train's idempotency key: a retried round with the same sequence is not trained twice.
  uint64_t sequence = 0;
  // Where the new weights go; unset = every generator of RoundClients, empty = nowhere.
  std::optional<std::vector<clients::PublishTarget>> publish_to;
  bool allow_downgrade = false;
  // The generators must hold at least this version (FAILED_PRECONDITION otherwise).
  std::optional<uint64_t> min_policy_version;
  absl::Duration call_timeout = absl::Seconds(300);     // per call
  std::shared_ptr<clients::Cancellation> cancellation;  // may be null
};

// Figures of the rollouts a round trained on.
struct RolloutQuality {
  int64_t rollouts = 0;
  double reward_mean = 0, reward_std = 0;
  double mean_response_tokens = 0;
  double truncated_fraction = 0;  // finished by length, not by a stop token
  double distinct_1 = 0;          // distinct unigrams / response tokens
  double distinct_2 = 0;          // distinct bigrams / response bigrams
  double unique_responses = 0;    // distinct responses / rollouts
  // Mean over rollouts of sum_t (behaviour log-prob - reference log-prob): the k1 estimate of
  // KL(policy || reference) per sequence. Unset without reference log-probs.
  std::optional<double> kl;
};

// Seconds per phase. `wall` is measured by the round on its caller's side (score and reference
// run side by side, so they overlap); `inside` is what the services reported for their own part
// where the answer carries it (generate: the slowest rollout; reference; train; publish).
struct PhaseSeconds {
  double generate = 0, score = 0, reference = 0, train = 0, publish = 0;
};

struct RoundReport {
  std::vector<generator::RolloutResult> rollouts;  // sorted by (prompt id, sample index)
  std::vector<double> rewards;                     // per rollout
  RolloutQuality quality;
  learner::TrainStats stats;
  std::optional<clients::PublishOutcome> published;
  std::vector<std::string> lost_generators;       // replicas dropped during this round
  std::vector<learner::PreferenceExample> pairs;  // DPO: the pairs trained on
  int64_t dropped_stale = 0;  // rollouts older than TrainPolicyGradientRound's bound
  int resampled = 0;          // times the round was sampled again because every sample tied
  PhaseSeconds wall, inside;
};

absl::StatusOr<RoundReport> RunPolicyGradientRound(const RoundClients& clients,
                                                   const RoundSpec& spec);

// The two halves of RunPolicyGradientRound, for a caller that overlaps them (asynchronous
// rounds: round n + 1 generates while round n trains).
struct GeneratedRound {
  std::vector<generator::RolloutResult> rollouts;      // sorted by (prompt id, sample index)
  std::vector<double> rewards;                         // per rollout
  std::vector<std::vector<float>> reference_logprobs;  // per rollout
  std::vector<std::string> lost_generators;
  PhaseSeconds wall, inside;
};
// Generate (log-probs on) -> score and reference log-probs side by side.
absl::StatusOr<GeneratedRound> GeneratePolicyGradientRound(const RoundClients& clients,
                                                           const RoundSpec& spec);
// Trains on `generated` and publishes. Rollouts sampled by a policy older than
// `min_policy_version` are dropped, with every other sample of their prompt (a group), and
// counted in RoundReport::dropped_stale; FAILED_PRECONDITION when none is left.
absl::StatusOr<RoundReport> TrainPolicyGradientRound(const RoundClients& clients,
                                                     const RoundSpec& spec,
                                                     GeneratedRound generated,
                                                     uint64_t min_policy_version = 0);
absl::StatusOr<RoundReport> RunRejectionSamplingRound(const RoundClients& clients,
                                                      const RoundSpec& spec);
absl::StatusOr<RoundReport> RunDpoRound(const RoundClients& clients, const RoundSpec& spec);
// Generates and scores spec.prompts and asks the reference (for the KL), without training or
// publishing: a stage's held-out evaluation. The learner is not called.
absl::StatusOr<RoundReport> RunEvaluationRound(const RoundClients& clients, const RoundSpec& spec);

// Generates K >= 2 samples per prompt, scores them, and trains a reward model (a REWARD_MODEL
// session) on every pair of a prompt's samples whose rewards differ by more than
// spec.min_preference_gap, the higher one chosen, with the Llama 2 margin level 0, 1/3, 2/3 or 1
// of the pair's gap quartile among the round's pairs. Publishes only to spec.publish_to.
// FAILED_PRECONDITION when every prompt's samples tie.
absl::StatusOr<RoundReport> RunJudgedPairsRound(const RoundClients& clients, const RoundSpec& spec);

// One Train call of an offline stage on an already-tokenized batch: with `needs_reference`, the
// reference's summed log-probs are asked first and filled in (DPO family: each pair's chosen and
// rejected response; KTO: each completion and the mismatched one, the next example's completion
// after this example's prompt); then Train; then a publish only when spec.publish_to names
// targets. spec.prompts and spec.sampling are not read. The report has the stats and seconds.
absl::StatusOr<RoundReport> RunOfflineStep(const RoundClients& clients, const RoundSpec& spec,
                                           clients::TrainBatch batch, bool needs_reference);

// The phases, for callers that schedule them differently (and for tests).
// Generates `spec` across the replicas; `lost` receives the replicas that failed.
absl::StatusOr<std::vector<generator::RolloutResult>> GenerateAcrossReplicas(
    const std::vector<clients::GeneratorClient*>& generators, const RoundSpec& spec,
    std::vector<std::string>* lost);
RolloutQuality MeasureRollouts(const std::vector<generator::RolloutResult>& rollouts,
                               const std::vector<double>& rewards,
                               const std::vector<std::vector<float>>* reference_logprobs);

}  // namespace plumb::rounds

#endif  // PLUMB_COMMON_ROUNDS_ROUNDS_H_
