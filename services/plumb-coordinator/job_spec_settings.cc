// A stage's sampling, scoring and scheduling settings: checked, with the proto's defaults.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/plumb-coordinator/job_spec_checks.h"

namespace plumb::coordinator::spec_internal {
namespace {

constexpr size_t kMaxJudgeBytes = 128;
constexpr size_t kMaxPrincipleBytes = 4096;

}  // namespace

generator::SamplingRequest SamplingFromSpec(const std::string& path, const v1::SamplingParams& p,
                                            SpecErrors* e) {
  generator::SamplingRequest r;
  if (p.has_temperature()) {
    if (p.temperature() < 0 || p.temperature() > 100) {
      e->Invalid(At(path, "temperature"),
                 absl::StrCat("must be in [0, 100], got ", p.temperature()));
    }
    r.temperature = p.temperature();
  }
  e->InRange(At(path, "top_k"), p.top_k(), 0, 1 << 24);
  r.top_k = p.top_k();
  if (p.has_top_p()) {
    if (!(p.top_p() > 0 && p.top_p() <= 1)) {
      e->Invalid(At(path, "top_p"), absl::StrCat("must be in (0, 1], got ", p.top_p()));
    }
    r.top_p = p.top_p();
  }
  e->InRange(At(path, "max_new_tokens"), p.max_new_tokens(), 0, 1 << 20);
  r.max_new_tokens = p.max_new_tokens();
  e->InRange(At(path, "min_new_tokens"), p.min_new_tokens(), 0,
             p.max_new_tokens() > 0 ? p.max_new_tokens() : 1 << 20);
  r.min_new_tokens = p.min_new_tokens();
  if (p.stop_token_ids_size() > 16) {
    e->Invalid(At(path, "stop_token_ids"),
               absl::StrCat(p.stop_token_ids_size(), " ids; at most 16"));
  }
  for (int k = 0; k < p.stop_token_ids_size(); ++k) {
    if (p.stop_token_ids(k) < 0) {
      e->Invalid(Index(At(path, "stop_token_ids"), k), "must not be negative");
    }
    r.stop_token_ids.push_back(p.stop_token_ids(k));
  }
  if (p.stop_strings_size() > 8) {
    e->Invalid(At(path, "stop_strings"),
               absl::StrCat(p.stop_strings_size(), " strings; at most 8"));
  }
  for (int k = 0; k < p.stop_strings_size(); ++k) {
    if (p.stop_strings(k).empty() || p.stop_strings(k).size() > 64) {
      e->Invalid(Index(At(path, "stop_strings"), k), "must be 1..64 bytes");
    }
    r.stop_strings.push_back(p.stop_strings(k));
  }
  e->InRange(At(path, "num_samples"), p.num_samples(), 0, 4096);
  r.num_samples = p.num_samples() == 0 ? 1 : p.num_samples();
  r.seed = p.seed();
  r.return_logprobs = p.return_logprobs();
  r.ignore_eos = p.ignore_eos();
  return r;
}

ScoringPlan ScoringFromSpec(const std::string& path, const v1::ScoringSettings& s, SpecErrors* e) {
  ScoringPlan out;
  if (s.objectives_size() > kMaxObjectives) {
    e->Invalid(At(path, "objectives"),
               absl::StrCat(s.objectives_size(), " objectives; at most ", kMaxObjectives));
  }
  for (int k = 0; k < s.objectives_size(); ++k) {
    CheckName(Index(At(path, "objectives"), k), s.objectives(k), kMaxSpecNameBytes, e);
    out.objectives.push_back(s.objectives(k));
  }
  out.pair_selection = s.pair_selection() == v1::PAIR_SELECTION_JUDGE ? PairSelection::kJudge
                                                                      : PairSelection::kBestWorst;
  CheckBytes(At(path, "judge"), s.judge(), kMaxJudgeBytes, e);
  CheckBytes(At(path, "principle"), s.principle(), kMaxPrincipleBytes, e);
  out.judge = s.judge();
  out.principle = s.principle();
  if (s.min_preference_gap() < 0 || s.min_preference_gap() > 1e6) {
    e->Invalid(At(path, "min_preference_gap"),
               absl::StrCat("must be in [0, 1e6], got ", s.min_preference_gap()));
  }
  out.min_preference_gap = s.min_preference_gap();
  return out;
}

SchedulingPlan SchedulingFromSpec(const std::string& path, const v1::SchedulingSettings& s,
                                  bool online, SpecErrors* e) {
  SchedulingPlan out;
  e->InRange(At(path, "generator_replicas"), s.generator_replicas(), 0, 1024);
  out.generator_replicas = s.generator_replicas();
  e->InRange(At(path, "prompts_per_round"), s.prompts_per_round(), 0, 100000);
  out.prompts_per_round = s.prompts_per_round() == 0 ? 64 : s.prompts_per_round();
  e->InRange(At(path, "rollout_batch_size"), s.rollout_batch_size(), 0, 4096);
  out.rollout_batch_size = s.rollout_batch_size() == 0 ? 16 : s.rollout_batch_size();
  e->InRange(At(path, "train_batch_size"), s.train_batch_size(), 0, 100000);
  out.train_batch_size = s.train_batch_size() == 0 && !online ? 32 : s.train_batch_size();

  const std::string retry = At(path, "retry");
  const v1::RetryPolicy& r = s.retry();
  e->InRange(At(retry, "max_attempts"), r.max_attempts(), 0, 100);
  out.retry.max_attempts = r.max_attempts() == 0 ? 3 : r.max_attempts();
  out.retry.initial_backoff =
      DurationOf(At(retry, "initial_backoff"), r.initial_backoff(), absl::Seconds(1), e);
  out.retry.max_backoff =
      DurationOf(At(retry, "max_backoff"), r.max_backoff(), absl::Seconds(30), e);
  if (out.retry.max_backoff < out.retry.initial_backoff) {
    e->Invalid(At(retry, "max_backoff"),
               absl::StrCat("must be >= initial_backoff (",
                            absl::FormatDuration(out.retry.initial_backoff), "), got ",
                            absl::FormatDuration(out.retry.max_backoff)));
  }
  if (r.backoff_multiplier() != 0 && (r.backoff_multiplier() < 1 || r.backoff_multiplier() > 10)) {
    e->Invalid(At(retry, "backoff_multiplier"),
               absl::StrCat("must be in [1, 10] (or 0 for 2.0), got ", r.backoff_multiplier()));
  }
  out.retry.backoff_multiplier = r.backoff_multiplier() == 0 ? 2.0 : r.backoff_multiplier();
  e->InRange(At(retry, "max_round_restarts"), r.max_round_restarts(), 0, 100);
  out.retry.max_round_restarts = r.max_round_restarts() == 0 ? 2 : r.max_round_restarts();

  out.rpc_timeout = DurationOf(At(path, "rpc_timeout"), s.rpc_timeout(), absl::Seconds(600), e);
  e->InRange(At(path, "checkpoint_every"), s.checkpoint_every(), 0, kMaxCount);
  out.checkpoint_every = s.checkpoint_every();
  e->InRange(At(path, "publish_every_rounds"), s.publish_every_rounds(), 0, kMaxCount);
  out.publish_every_rounds = s.publish_every_rounds() == 0 ? 1 : s.publish_every_rounds();
  out.round_mode = s.round_mode() == v1::ROUND_MODE_ASYNC ? RoundMode::kAsync : RoundMode::kSync;
  e->InRange(At(path, "max_policy_lag"), s.max_policy_lag(), 0, 16);
  out.max_policy_lag = s.max_policy_lag() == 0 ? 1 : s.max_policy_lag();
  return out;
}

}  // namespace plumb::coordinator::spec_internal
