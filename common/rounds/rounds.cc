#include "common/rounds/rounds.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status/status_macros.h"

namespace plumb::rounds {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::Status InPhase(const char* phase, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(phase, ": ", status.message()));
}

clients::CallOptions CallOf(const RoundSpec& spec) {
  return {.timeout = spec.call_timeout, .cancellation = spec.cancellation};
}

// A replica that failed this way is dropped for the round; its share goes elsewhere.
bool ReplicaFailed(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsResourceExhausted(status);
}

std::string GroupOf(const RoundSpec& spec, const std::string& prompt_id) {
  return absl::StrCat(spec.round_id, "/", prompt_id);
}

absl::Status CheckClients(const RoundClients& c, bool needs_reference) {
  if (c.generators.empty() ||
      std::find(c.generators.begin(), c.generators.end(), nullptr) != c.generators.end()) {
    return absl::InvalidArgumentError("clients.generators: at least one, none null");
  }
  if (c.scorer == nullptr) return absl::InvalidArgumentError("clients.scorer: required");
  if (c.learner == nullptr) return absl::InvalidArgumentError("clients.learner: required");
  if (needs_reference && c.reference == nullptr) {
    return absl::InvalidArgumentError("clients.reference: required");
  }
  return absl::OkStatus();
}

absl::Status CheckSpec(const RoundSpec& spec) {
  if (spec.round_id.empty()) return absl::InvalidArgumentError("spec.round_id: empty");
  if (spec.session_id.empty()) return absl::InvalidArgumentError("spec.session_id: empty");
  if (spec.prompts.empty()) return absl::InvalidArgumentError("spec.prompts: empty");
  std::set<std::string> ids;
  for (const generator::PromptInput& p : spec.prompts) {
    if (!ids.insert(p.id).second) {
      return absl::InvalidArgumentError(absl::StrCat("spec.prompts: id '", p.id, "' twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> Score(const RoundClients& c, const RoundSpec& spec,
                                          const std::vector<generator::RolloutResult>& rollouts) {
  std::map<std::string, const std::map<std::string, std::string>*> metadata;
  for (const generator::PromptInput& p : spec.prompts) {
    if (!p.metadata.empty()) metadata[p.id] = &p.metadata;
  }
  std::vector<scorer::ScoreInput> items;
  items.reserve(rollouts.size());
  for (size_t i = 0; i < rollouts.size(); ++i) {
    scorer::ScoreInput item;
    item.id = absl::StrCat(i);
    if (auto it = metadata.find(rollouts[i].prompt_id); it != metadata.end()) {
      item.prompt_metadata = *it->second;
    }
    item.prompt_ids.assign(rollouts[i].prompt_ids.begin(), rollouts[i].prompt_ids.end());
    item.response_text = rollouts[i].response_text;
    item.response_text_given = rollouts[i].has_text;
    item.response_ids.assign(rollouts[i].response_ids.begin(), rollouts[i].response_ids.end());
    items.push_back(std::move(item));
  }
  ASSIGN_OR_RETURN(std::vector<scorer::ScoreOutput> scores,
                   c.scorer->Score(items, spec.score_objectives, CallOf(spec)));
  std::vector<double> rewards;
  for (size_t i = 0; i < scores.size(); ++i) {
    // A round scored by one objective that the composition does not cover (a judge) is rewarded
    // by that objective's score.
    if (!scores[i].reward.has_value() && spec.score_objectives.size() == 1) {
      scores[i].reward = scores[i].score(spec.score_objectives.front());
    }
    if (!scores[i].reward.has_value() || !std::isfinite(*scores[i].reward)) {
      return absl::FailedPreconditionError(
          absl::StrCat(c.scorer->endpoint(), " composed no finite reward for rollout ", i));
    }
    rewards.push_back(*scores[i].reward);
  }
  return rewards;
}

absl::StatusOr<reference::LogProbsOutcome> ReferenceLogProbs(
    const RoundClients& c, const RoundSpec& spec,
    const std::vector<generator::RolloutResult>& rollouts, bool sums) {
  reference::LogProbsJob job;
  job.sum_only = sums;
  // The distribution the learner evaluates the policy under (ExperienceBatch.temperature), so
  // the KL terms compare like with like.
  job.temperature = spec.sampling.temperature.value_or(1.0);
  for (size_t i = 0; i < rollouts.size(); ++i) {
    job.items.push_back({absl::StrCat(i), rollouts[i].prompt_ids, rollouts[i].response_ids});
  }
  return c.reference->LogProbs(job, CallOf(spec));
}

// Generates, then scores and (with `reference`) asks the reference in parallel.
struct Scored {
  std::vector<generator::RolloutResult> rollouts;
  std::vector<double> rewards;
  std::optional<reference::LogProbsOutcome> reference;
  std::vector<std::string> lost;
  PhaseSeconds wall, inside;
};

absl::StatusOr<Scored> GenerateAndScore(const RoundClients& c, const RoundSpec& spec,
                                        bool reference, bool reference_sums) {
  Scored out;
  auto start = Clock::now();
  ASSIGN_OR_RETURN(out.rollouts, GenerateAcrossReplicas(c.generators, spec, &out.lost));
  out.wall.generate = Since(start);
  for (const generator::RolloutResult& r : out.rollouts) {
    out.inside.generate = std::max(out.inside.generate, r.seconds);
  }
  absl::StatusOr<reference::LogProbsOutcome> ref = absl::UnknownError("not asked");
  std::thread reference_thread;
  if (reference) {
    reference_thread = std::thread([&] {
      const auto begin = Clock::now();
      ref = ReferenceLogProbs(c, spec, out.rollouts, reference_sums);
      out.wall.reference = Since(begin);
    });
  }
  start = Clock::now();
  absl::StatusOr<std::vector<double>> rewards = Score(c, spec, out.rollouts);
  out.wall.score = Since(start);
  if (reference_thread.joinable()) reference_thread.join();
  RETURN_IF_ERROR(InPhase("score", rewards.status()));
  out.rewards = *std::move(rewards);
  if (reference) {
    RETURN_IF_ERROR(InPhase("reference", ref.status()));
    if (ref->results.size() != out.rollouts.size()) {
      return absl::InternalError("reference: answered a different number of items");
    }
    out.inside.reference = ref->seconds;
    out.reference = *std::move(ref);
  }
  return out;
}

absl::Status TrainAndPublish(const RoundClients& c, const RoundSpec& spec,
                             clients::TrainBatch batch, RoundReport* report) {
  clients::TrainCall call{
      .session_id = spec.session_id, .sequence = spec.sequence, .batch = std::move(batch)};
  auto start = Clock::now();
  absl::StatusOr<learner::TrainStats> stats = c.learner->Train(call, CallOf(spec));
  RETURN_IF_ERROR(InPhase("train", stats.status()));
  report->wall.train = Since(start);
  report->inside.train = stats->seconds;
  report->stats = *std::move(stats);
  std::vector<clients::PublishTarget> targets;
  if (spec.publish_to.has_value()) {
    targets = *spec.publish_to;
  } else {
    for (clients::GeneratorClient* g : c.generators) {
      if (std::find(report->lost_generators.begin(), report->lost_generators.end(),
                    g->endpoint()) == report->lost_generators.end()) {
        targets.push_back({g->endpoint(), ""});
      }
    }
  }
  if (targets.empty()) return absl::OkStatus();
  clients::PublishCall publish{.session_id = spec.session_id,
                               .targets = std::move(targets),
                               .allow_downgrade = spec.allow_downgrade};
  start = Clock::now();
  absl::StatusOr<clients::PublishOutcome> published =
      c.learner->PublishWeights(publish, CallOf(spec));
  RETURN_IF_ERROR(InPhase("publish", published.status()));
  report->wall.publish = Since(start);
  report->inside.publish = published->seconds;
  report->published = *std::move(published);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<generator::RolloutResult>> GenerateAcrossReplicas(
    const std::vector<clients::GeneratorClient*>& generators, const RoundSpec& spec,
    std::vector<std::string>* lost) {
  const size_t shards = std::min(generators.size(), spec.prompts.size());
  absl::Mutex mu;
  std::vector<bool> dead(generators.size(), false);
  std::vector<std::vector<generator::RolloutResult>> results(shards);
  std::vector<absl::Status> statuses(shards);
  std::vector<std::string> failures;  // "endpoint: message" of each replica dropped
  auto run_shard = [&](size_t shard) {
    generator::GenerateJob job;
    job.request_id = spec.round_id;
    job.sampling = spec.sampling;
    job.min_policy_version = spec.min_policy_version;
    for (size_t i = shard; i < spec.prompts.size(); i += shards) {
      job.prompts.push_back(spec.prompts[i]);
    }
    // Start on this shard's own replica, then walk the others in order.
    for (size_t step = 0; step < generators.size(); ++step) {
      const size_t r = (shard + step) % generators.size();
      {
        absl::MutexLock lock(&mu);
        if (dead[r]) continue;
      }
      absl::StatusOr<std::vector<generator::RolloutResult>> rollouts =
          generators[r]->GenerateAll(job, CallOf(spec));
      if (rollouts.ok()) {
        results[shard] = *std::move(rollouts);
        return;
      }
      if (!ReplicaFailed(rollouts.status()) ||
          (spec.cancellation != nullptr && spec.cancellation->cancelled())) {
        statuses[shard] = absl::Status(
            rollouts.status().code(),
            absl::StrCat(generators[r]->endpoint(), ": ", rollouts.status().message()));
        return;
      }
      absl::MutexLock lock(&mu);
      if (!dead[r]) {
        dead[r] = true;
        failures.push_back(
            absl::StrCat(generators[r]->endpoint(), ": ", rollouts.status().message()));
      }
    }
    absl::MutexLock lock(&mu);
    statuses[shard] = absl::UnavailableError(
        absl::StrCat("every generator replica failed (", absl::StrJoin(failures, "; "), ")"));
  };
  std::vector<std::thread> threads;
  for (size_t shard = 1; shard < shards; ++shard) threads.emplace_back(run_shard, shard);
  run_shard(0);
  for (std::thread& t : threads) t.join();
  for (size_t r = 0; r < generators.size(); ++r) {
    if (dead[r]) lost->push_back(generators[r]->endpoint());
  }
  std::vector<generator::RolloutResult> all;
  for (size_t shard = 0; shard < shards; ++shard) {
    RETURN_IF_ERROR(InPhase("generate", statuses[shard]));
    for (generator::RolloutResult& r : results[shard]) all.push_back(std::move(r));
  }
  clients::SortRollouts(&all);
  return all;
}

RolloutQuality MeasureRollouts(const std::vector<generator::RolloutResult>& rollouts,
                               const std::vector<double>& rewards,
                               const std::vector<std::vector<float>>* reference_logprobs) {
  RolloutQuality q;
  q.rollouts = static_cast<int64_t>(rollouts.size());
  if (rollouts.empty()) return q;
  const double n = static_cast<double>(rollouts.size());
  for (double r : rewards) q.reward_mean += r / n;
  for (double r : rewards) q.reward_std += (r - q.reward_mean) * (r - q.reward_mean) / n;
  q.reward_std = std::sqrt(q.reward_std);
  std::set<int64_t> unigrams;
  std::set<std::pair<int64_t, int64_t>> bigrams;
  std::set<std::vector<int64_t>> responses;
  double tokens = 0, pairs = 0, truncated = 0;
  for (const generator::RolloutResult& r : rollouts) {
    tokens += static_cast<double>(r.response_ids.size());
    for (size_t t = 0; t < r.response_ids.size(); ++t) {
      unigrams.insert(r.response_ids[t]);
      if (t > 0) {
        bigrams.insert({r.response_ids[t - 1], r.response_ids[t]});
        ++pairs;
      }
    }
    responses.insert(r.response_ids);
    if (r.finish == generator::Finish::kLength) ++truncated;
  }
  q.mean_response_tokens = tokens / n;
  q.truncated_fraction = truncated / n;
  q.distinct_1 = tokens > 0 ? static_cast<double>(unigrams.size()) / tokens : 0;
  q.distinct_2 = pairs > 0 ? static_cast<double>(bigrams.size()) / pairs : 0;
  q.unique_responses = static_cast<double>(responses.size()) / n;
  if (reference_logprobs != nullptr && reference_logprobs->size() == rollouts.size()) {
    double kl = 0;
    bool complete = true;
    for (size_t i = 0; i < rollouts.size(); ++i) {
      const std::vector<float>& behaviour = rollouts[i].logprobs;
      const std::vector<float>& ref = (*reference_logprobs)[i];
      if (behaviour.size() != ref.size()) {
        complete = false;
        break;
      }
      for (size_t t = 0; t < ref.size(); ++t) kl += (behaviour[t] - ref[t]) / n;
    }
    if (complete) q.kl = kl;
  }
  return q;
}

absl::StatusOr<GeneratedRound> GeneratePolicyGradientRound(const RoundClients& c,
                                                           const RoundSpec& spec) {
  RETURN_IF_ERROR(CheckClients(c, /*needs_reference=*/true));
  RETURN_IF_ERROR(CheckSpec(spec));
  RoundSpec own = spec;
  own.sampling.return_logprobs = true;  // the learner's importance ratios need them
  ASSIGN_OR_RETURN(Scored scored, GenerateAndScore(c, own, /*reference=*/true, false));
  GeneratedRound out;
  out.lost_generators = std::move(scored.lost);
  out.wall = scored.wall;
  out.inside = scored.inside;
  for (reference::LogProbsItemResult& r : scored.reference->results) {
    out.reference_logprobs.push_back(std::move(r.logprobs));
  }
  out.rollouts = std::move(scored.rollouts);
  out.rewards = std::move(scored.rewards);
  return out;
}

absl::StatusOr<RoundReport> TrainPolicyGradientRound(const RoundClients& c, const RoundSpec& spec,
                                                     GeneratedRound generated,
                                                     uint64_t min_policy_version) {
  RETURN_IF_ERROR(CheckClients(c, /*needs_reference=*/true));
  RETURN_IF_ERROR(CheckSpec(spec));
  RoundReport report;
  report.lost_generators = generated.lost_generators;
  report.wall = generated.wall;
  report.inside = generated.inside;
  // A prompt's samples are one group (GRPO, RLOO): one stale sample drops the whole group.
  std::set<std::string> stale;
  for (const generator::RolloutResult& r : generated.rollouts) {
    if (r.policy_version < min_policy_version) stale.insert(r.prompt_id);
  }
  std::vector<generator::RolloutResult> kept;
  std::vector<double> rewards;
  std::vector<std::vector<float>> ref;
  for (size_t i = 0; i < generated.rollouts.size(); ++i) {
    if (stale.contains(generated.rollouts[i].prompt_id)) {
      ++report.dropped_stale;
      continue;
    }
    kept.push_back(std::move(generated.rollouts[i]));
    rewards.push_back(generated.rewards[i]);
    ref.push_back(std::move(generated.reference_logprobs[i]));
  }
  if (kept.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "train: every rollout was made by a policy older than version ", min_policy_version));
  }
  clients::ExperienceBatch batch;
  batch.temperature = spec.sampling.temperature.value_or(1.0);
  for (size_t i = 0; i < kept.size(); ++i) {
    const generator::RolloutResult& r = kept[i];
    batch.experiences.push_back({.group = GroupOf(spec, r.prompt_id),
                                 .prompt = r.prompt_ids,
                                 .response = r.response_ids,
                                 .logprobs = r.logprobs,
                                 .ref_logprobs = ref[i],
                                 .reward = rewards[i],
                                 .stopped = r.finish == generator::Finish::kStop,
                                 .policy_version = r.policy_version});
  }
  report.quality = MeasureRollouts(kept, rewards, &ref);
  report.rollouts = std::move(kept);
  report.rewards = std::move(rewards);
  RETURN_IF_ERROR(TrainAndPublish(c, spec, std::move(batch), &report));
  return report;
}

absl::StatusOr<RoundReport> RunPolicyGradientRound(const RoundClients& c, const RoundSpec& spec) {
  ASSIGN_OR_RETURN(GeneratedRound generated, GeneratePolicyGradientRound(c, spec));
  return TrainPolicyGradientRound(c, spec, std::move(generated));
}

absl::StatusOr<RoundReport> RunEvaluationRound(const RoundClients& c, const RoundSpec& spec) {
  RETURN_IF_ERROR(CheckClients(c, /*needs_reference=*/true));
  RETURN_IF_ERROR(CheckSpec(spec));
  RoundSpec own = spec;
  own.sampling.return_logprobs = true;  // the KL to the reference needs them
  ASSIGN_OR_RETURN(Scored scored, GenerateAndScore(c, own, /*reference=*/true, false));
  RoundReport report;
  report.lost_generators = scored.lost;
  report.wall = scored.wall;
  report.inside = scored.inside;
  std::vector<std::vector<float>> ref;
  for (const reference::LogProbsItemResult& r : scored.reference->results) {
    ref.push_back(r.logprobs);
  }
  report.quality = MeasureRollouts(scored.rollouts, scored.rewards, &ref);
  report.rollouts = std::move(scored.rollouts);
  report.rewards = std::move(scored.rewards);
  return report;
}

absl::StatusOr<RoundReport> RunRejectionSamplingRound(const RoundClients& c,
                                                      const RoundSpec& spec) {
  RETURN_IF_ERROR(CheckClients(c, /*needs_reference=*/false));
  RETURN_IF_ERROR(CheckSpec(spec));
  ASSIGN_OR_RETURN(Scored scored, GenerateAndScore(c, spec, /*reference=*/false, false));
  RoundReport report;
  report.lost_generators = scored.lost;
  report.wall = scored.wall;
  report.inside = scored.inside;
  clients::ExperienceBatch batch;
  batch.temperature = spec.sampling.temperature.value_or(1.0);
  for (size_t i = 0; i < scored.rollouts.size(); ++i) {
    const generator::RolloutResult& r = scored.rollouts[i];
    batch.experiences.push_back({.group = GroupOf(spec, r.prompt_id),
                                 .prompt = r.prompt_ids,
                                 .response = r.response_ids,
                                 .logprobs = r.logprobs,
                                 .reward = scored.rewards[i],
                                 .stopped = r.finish == generator::Finish::kStop,
                                 .policy_version = r.policy_version});
  }
  report.quality = MeasureRollouts(scored.rollouts, scored.rewards, nullptr);
  report.rollouts = std::move(scored.rollouts);
  report.rewards = std::move(scored.rewards);
  RETURN_IF_ERROR(TrainAndPublish(c, spec, std::move(batch), &report));
  return report;
}

namespace {

// Generates and scores `*own` (reference sums with `reference`) until `has_pairs` accepts the
// samples, sampling again with another seed up to own->tie_retries times (counted in
// report->resampled); FAILED_PRECONDITION after the last. Fills the report's phases and quality.
absl::StatusOr<Scored> SampleUntilUntied(const RoundClients& c, RoundSpec* own, bool reference,
                                         RoundReport* report,
                                         const std::function<bool(const Scored&)>& has_pairs) {
  const std::string round_id = own->round_id;
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(Scored scored, GenerateAndScore(c, *own, reference, reference));
    report->lost_generators.insert(report->lost_generators.end(), scored.lost.begin(),
                                   scored.lost.end());
    report->wall = scored.wall;
    report->inside = scored.inside;
    report->quality = MeasureRollouts(scored.rollouts, scored.rewards, nullptr);
    if (has_pairs(scored)) return scored;
    if (attempt >= own->tie_retries) {
      return absl::FailedPreconditionError(absl::StrCat(
          "pairs: every prompt's samples tied on reward in ", attempt + 1,
          " samplings; raise num_samples or the temperature, or lower min_preference_gap"));
    }
    ++report->resampled;
    own->sampling.seed = own->sampling.seed * 6364136223846793005ULL + 1442695040888963407ULL;
    own->round_id = absl::StrCat(round_id, "/again", attempt + 1);
  }
}

}  // namespace

absl::StatusOr<RoundReport> RunDpoRound(const RoundClients& c, const RoundSpec& spec) {
  RETURN_IF_ERROR(CheckClients(c, /*needs_reference=*/true));
  RETURN_IF_ERROR(CheckSpec(spec));
  RoundSpec own = spec;
  own.sampling.num_samples = std::max<int64_t>(2, own.sampling.num_samples);
  RoundReport report;
  std::vector<learner::PreferenceExample> pairs;
  // Each prompt's best and worst sample by reward; a prompt whose gap is too small gives none.
  auto best_and_worst = [&](const Scored& scored) {
    pairs.clear();
    for (size_t begin = 0; begin < scored.rollouts.size();) {
      size_t end = begin;
      while (end < scored.rollouts.size() &&
             scored.rollouts[end].prompt_id == scored.rollouts[begin].prompt_id) {
        ++end;
      }
      size_t best = begin, worst = begin;
      for (size_t i = begin; i < end; ++i) {
        if (scored.rewards[i] > scored.rewards[best]) best = i;
        if (scored.rewards[i] < scored.rewards[worst]) worst = i;
      }
      if (scored.rewards[best] - scored.rewards[worst] > std::max(0.0, spec.min_preference_gap)) {
        pairs.push_back({.id = scored.rollouts[begin].prompt_id,
                         .prompt = scored.rollouts[begin].prompt_ids,
                         .chosen = scored.rollouts[best].response_ids,
                         .rejected = scored.rollouts[worst].response_ids,
                         .ref_chosen = scored.reference->results[best].sum,
                         .ref_rejected = scored.reference->results[worst].sum});
      }
      begin = end;
    }
    return !pairs.empty();
  };
  ASSIGN_OR_RETURN(Scored scored,
                   SampleUntilUntied(c, &own, /*reference=*/true, &report, best_and_worst));
  report.rollouts = std::move(scored.rollouts);
  report.rewards = std::move(scored.rewards);
  report.pairs = pairs;
  RETURN_IF_ERROR(TrainAndPublish(c, own, std::move(pairs), &report));
  return report;
}

namespace {

// A comparison within one prompt's samples: the indices of the better and the worse sample.
struct Candidate {
  size_t chosen, rejected;
  double gap;
};

// Every pair of a prompt's samples whose rewards differ by more than `min_gap`, better first.
std::vector<Candidate> UntiedPairs(const Scored& scored, double min_gap) {
  std::vector<Candidate> candidates;
  for (size_t begin = 0; begin < scored.rollouts.size();) {
    size_t end = begin;
    while (end < scored.rollouts.size() &&
           scored.rollouts[end].prompt_id == scored.rollouts[begin].prompt_id) {
      ++end;
    }
    for (size_t i = begin; i < end; ++i) {
      for (size_t j = i + 1; j < end; ++j) {
        const double gap = scored.rewards[i] - scored.rewards[j];
        if (std::abs(gap) <= std::max(0.0, min_gap)) continue;
        candidates.push_back(gap > 0 ? Candidate{i, j, gap} : Candidate{j, i, -gap});
      }
    }
    begin = end;
  }
  return candidates;
}

}  // namespace

absl::StatusOr<RoundReport> RunJudgedPairsRound(const RoundClients& c, const RoundSpec& spec) {
  RETURN_IF_ERROR(CheckClients(c, /*needs_reference=*/false));
  RETURN_IF_ERROR(CheckSpec(spec));
  RoundSpec own = spec;
  own.sampling.num_samples = std::max<int64_t>(2, own.sampling.num_samples);
  if (!own.publish_to.has_value()) own.publish_to = std::vector<clients::PublishTarget>();
  RoundReport report;
  std::vector<Candidate> candidates;
  ASSIGN_OR_RETURN(Scored scored,
                   SampleUntilUntied(c, &own, /*reference=*/false, &report, [&](const Scored& s) {
                     candidates = UntiedPairs(s, spec.min_preference_gap);
                     return !candidates.empty();
                   }));
  // Llama 2's four margin levels by the quartile of the gap among this round's pairs.
  std::vector<double> gaps;
  for (const Candidate& p : candidates) gaps.push_back(p.gap);
  std::sort(gaps.begin(), gaps.end());
  auto quantile = [&](double q) {
    return gaps[std::min(gaps.size() - 1, static_cast<size_t>(q * gaps.size()))];
  };
  const double q1 = quantile(0.25), q2 = quantile(0.5), q3 = quantile(0.75);
  std::vector<learner::PreferenceExample> pairs;
  for (const Candidate& p : candidates) {
    const generator::RolloutResult& chosen = scored.rollouts[p.chosen];
    const double margin = p.gap > q3 ? 1.0 : p.gap > q2 ? 2.0 / 3 : p.gap > q1 ? 1.0 / 3 : 0.0;
    pairs.push_back({.id = absl::StrCat(chosen.prompt_id, "/", p.chosen, ">", p.rejected),
                     .prompt = chosen.prompt_ids,
                     .chosen = chosen.response_ids,
                     .rejected = scored.rollouts[p.rejected].response_ids,
                     .margin = margin});
  }
  report.rollouts = std::move(scored.rollouts);
  report.rewards = std::move(scored.rewards);
  report.pairs = pairs;
  RETURN_IF_ERROR(TrainAndPublish(c, own, std::move(pairs), &report));
  return report;
}

namespace {

// The reference's summed log-prob of every (prompt, response) in `items`, in order.
absl::StatusOr<std::vector<double>> ReferenceSums(
    const RoundClients& c, const RoundSpec& spec,
    std::vector<std::pair<const std::vector<int64_t>*, const std::vector<int64_t>*>> items) {
  reference::LogProbsJob job;
  job.sum_only = true;
  for (size_t i = 0; i < items.size(); ++i) {
    job.items.push_back({absl::StrCat(i), *items[i].first, *items[i].second});
  }
  ASSIGN_OR_RETURN(reference::LogProbsOutcome outcome, c.reference->LogProbs(job, CallOf(spec)));
  if (outcome.results.size() != items.size()) {
    return absl::InternalError("answered a different number of items");
  }
  std::vector<double> sums;
  for (const reference::LogProbsItemResult& r : outcome.results) sums.push_back(r.sum);
  return sums;
}

absl::Status AddReferenceSums(const RoundClients& c, const RoundSpec& spec,
                              clients::TrainBatch* batch) {
  if (auto* pairs = std::get_if<std::vector<learner::PreferenceExample>>(batch)) {
    std::vector<std::pair<const std::vector<int64_t>*, const std::vector<int64_t>*>> items;
    for (const learner::PreferenceExample& p : *pairs) {
      items.push_back({&p.prompt, &p.chosen});
      items.push_back({&p.prompt, &p.rejected});
    }
    ASSIGN_OR_RETURN(std::vector<double> sums, ReferenceSums(c, spec, std::move(items)));
    for (size_t i = 0; i < pairs->size(); ++i) {
      (*pairs)[i].ref_chosen = sums[2 * i];
      (*pairs)[i].ref_rejected = sums[2 * i + 1];
    }
    return absl::OkStatus();
  }
  if (auto* examples = std::get_if<std::vector<learner::UnpairedExample>>(batch)) {
    const size_t n = examples->size();
    std::vector<std::pair<const std::vector<int64_t>*, const std::vector<int64_t>*>> items;
    for (size_t i = 0; i < n; ++i) {
      items.push_back({&(*examples)[i].prompt, &(*examples)[i].completion});
      items.push_back({&(*examples)[i].prompt, &(*examples)[(i + 1) % n].completion});
    }
    ASSIGN_OR_RETURN(std::vector<double> sums, ReferenceSums(c, spec, std::move(items)));
    for (size_t i = 0; i < n; ++i) {
      (*examples)[i].ref_logprob = sums[2 * i];
      (*examples)[i].ref_kl_logprob = sums[2 * i + 1];
    }
    return absl::OkStatus();
  }
  return absl::OkStatus();  // SFT, ranked groups: no reference term
}

}  // namespace

absl::StatusOr<RoundReport> RunOfflineStep(const RoundClients& c, const RoundSpec& spec,
                                           clients::TrainBatch batch, bool needs_reference) {
  if (c.learner == nullptr) return absl::InvalidArgumentError("clients: no learner");
  if (needs_reference && c.reference == nullptr) {
    return absl::InvalidArgumentError("clients: no reference");
  }
  RoundReport report;
  if (needs_reference) {
    const auto start = Clock::now();
    RETURN_IF_ERROR(InPhase("reference", AddReferenceSums(c, spec, &batch)));
    report.wall.reference = Since(start);
  }
  RoundSpec own = spec;
  if (!own.publish_to.has_value()) own.publish_to = std::vector<clients::PublishTarget>();
  RETURN_IF_ERROR(TrainAndPublish(c, own, std::move(batch), &report));
  return report;
}

}  // namespace plumb::rounds
