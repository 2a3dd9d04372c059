#include "services/plumb-generator/generator_core.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/model/continuous_batch.h"
#include "common/status/status_macros.h"
#include "common/status/torch_status.h"
#include "common/tokenizer/prompt_text.h"
#include "common/tokenizer/utf8_runs.h"

namespace plumb::generator {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A sequence's stop rule for its stop strings: true at the token whose text completes one.
// Asked after every token (from the min_new_tokens-th on), so the first yes is at the token that
// completes the first match. The first question decodes the whole response (a match may lie
// anywhere before min_new_tokens); later ones decode only the last tokens, enough to hold the
// longest stop string (every token decodes to at least one byte; the few skipped special tokens
// in between get a margin), so a long response is not decoded once per token.
std::function<bool(const std::vector<int64_t>&)> StopStringRule(
    std::shared_ptr<const tokenizer::Tokenizer> tokenizer, std::vector<std::string> stops) {
  size_t longest = 0;
  for (const std::string& stop : stops) longest = std::max(longest, stop.size());
  auto asked = std::make_shared<bool>(false);
  return [tokenizer = std::move(tokenizer), stops = std::move(stops), window = longest + 8,
          asked](const std::vector<int64_t>& tokens) {
    const size_t from = *asked && tokens.size() > window ? tokens.size() - window : 0;
    *asked = true;
    const std::vector<int32_t> ids(tokens.begin() + static_cast<int64_t>(from), tokens.end());
    absl::StatusOr<std::string> text = tokenizer->Decode(ids, {.skip_special = true});
    if (!text.ok()) return false;
    for (const std::string& stop : stops) {
      if (absl::StrContains(*text, stop)) return true;
    }
    return false;
  };
}

}  // namespace

struct GeneratorCore::Request {
  const GenerateJob* job = nullptr;
  uint64_t arrival = 0;  // admission order (FIFO within a priority level)
  std::vector<std::vector<int64_t>> prompts;
  model::SamplingOptions options;  // `seed` is the request's (never 0 here)
  std::shared_ptr<weights::ModelSnapshot> snapshot;
  int sequences = 0;
  int next_row = 0;   // runner only: the next (prompt x sample) row to put into the batch
  int rows_left = 0;  // runner only: rows admitted to the batch and not yet finished
  Clock::time_point admitted;
  std::atomic<bool> cancelled{false};
  absl::Mutex mu;
  std::deque<RolloutResult> ready ABSL_GUARDED_BY(mu);
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::Status status ABSL_GUARDED_BY(mu);
};

struct GeneratorCore::Metrics {
  metrics::CounterFamily* requests;
  metrics::Counter* tokens;
  metrics::Counter* rollouts;
  metrics::Histogram* latency;
  metrics::Histogram* first_rollout;
  metrics::Histogram* batch;
  metrics::Gauge* queued;
  metrics::Gauge* running;
  metrics::Gauge* version;
};

absl::StatusOr<std::unique_ptr<GeneratorCore>> GeneratorCore::Create(
    weights::VersionedModel* model, std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
    GeneratorLimits limits, metrics::Registry* registry) {
  auto m = std::make_unique<Metrics>();
  ASSIGN_OR_RETURN(m->requests,
                   registry->AddCounter("plumb_generator_requests_total",
                                        "Generate requests by result code.", {"code"}));
  auto counter = [&](const char* name, const char* help) -> absl::StatusOr<metrics::Counter*> {
    ASSIGN_OR_RETURN(metrics::CounterFamily * family, registry->AddCounter(name, help));
    return &family->WithLabels({});
  };
  auto gauge = [&](const char* name, const char* help) -> absl::StatusOr<metrics::Gauge*> {
    ASSIGN_OR_RETURN(metrics::GaugeFamily * family, registry->AddGauge(name, help));
    return &family->WithLabels({});
  };
  auto histogram = [&](const char* name, const char* help,
                       std::vector<double> buckets) -> absl::StatusOr<metrics::Histogram*> {
    ASSIGN_OR_RETURN(metrics::HistogramFamily * family,
                     registry->AddHistogram(name, help, {}, std::move(buckets)));
    return &family->WithLabels({});
  };
  ASSIGN_OR_RETURN(m->tokens,
                   counter("plumb_generator_generated_tokens_total", "Response tokens sampled."));
  ASSIGN_OR_RETURN(m->rollouts, counter("plumb_generator_rollouts_total", "Rollouts returned."));
  ASSIGN_OR_RETURN(m->latency, histogram("plumb_generator_request_seconds",
                                         "Generate latency from admission to the last rollout.",
                                         metrics::DefaultLatencyBuckets()));
  ASSIGN_OR_RETURN(m->first_rollout,
                   histogram("plumb_generator_time_to_first_rollout_seconds",
                             "Seconds from admission to the first rollout of a request (tokens "
                             "of a batch are returned together when it finishes).",
                             metrics::DefaultLatencyBuckets()));
  ASSIGN_OR_RETURN(std::vector<double> sizes, metrics::ExponentialBuckets(1, 2, 12));
  ASSIGN_OR_RETURN(m->batch, histogram("plumb_generator_batch_size",
                                       "Sequences decoded together, per decoding step.", sizes));
  ASSIGN_OR_RETURN(m->queued, gauge("plumb_generator_queued_sequences",
                                    "Sequences admitted and waiting for the runner."));
  ASSIGN_OR_RETURN(m->running,
                   gauge("plumb_generator_running_sequences", "Sequences the runner is decoding."));
  ASSIGN_OR_RETURN(m->version, gauge("plumb_generator_policy_version",
                                     "Policy version new requests are admitted on."));
  m->version->Set(static_cast<double>(model->Current()->version));
  return std::unique_ptr<GeneratorCore>(
      new GeneratorCore(model, std::move(tokenizer), limits, std::move(m)));
}

GeneratorCore::GeneratorCore(weights::VersionedModel* model,
                             std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                             GeneratorLimits limits, std::unique_ptr<Metrics> metrics)
    : model_(model),
      tokenizer_(std::move(tokenizer)),
      limits_(limits),
      metrics_(std::move(metrics)) {
  runner_ = std::thread([this] { RunLoop(); });
}

GeneratorCore::~GeneratorCore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  runner_.join();
}

GeneratorLoad GeneratorCore::load() const {
  absl::MutexLock lock(&mu_);
  GeneratorLoad load;
  load.running_sequences = running_sequences_;
  load.queued_sequences = queued_sequences_;
  load.active_requests = active_requests_;
  const double now = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  int64_t tokens = 0;
  for (const auto& [time, n] : recent_tokens_) {
    if (time >= now - 60) tokens += n;
  }
  load.tokens_per_second = static_cast<double>(tokens) / 60.0;
  return load;
}

absl::Status GeneratorCore::Prepare(const GenerateJob& job, Request* request) const {
  const model::ModelConfig& config = model_->config();
  const GeneratorLimits& l = limits_;
  if (job.request_id.size() > 256) {
    return absl::InvalidArgumentError("request_id is longer than 256 bytes");
  }
  if (job.priority < -10 || job.priority > 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("priority ", job.priority, " is outside [-10, 10]"));
  }
  if (job.prompts.empty()) return absl::InvalidArgumentError("no prompts");
  if (static_cast<int>(job.prompts.size()) > l.max_prompts_per_request) {
    return absl::InvalidArgumentError(absl::StrCat(
        job.prompts.size(), " prompts exceed max_prompts_per_request ", l.max_prompts_per_request));
  }
  const SamplingRequest& s = job.sampling;
  model::SamplingOptions& o = request->options;
  o.temperature = s.temperature.value_or(1.0);
  o.top_k = s.top_k;
  o.top_p = s.top_p.value_or(1.0);
  if (s.num_samples < 0 || s.num_samples > l.max_num_samples) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_samples ", s.num_samples, " is outside [1, ", l.max_num_samples, "]"));
  }
  o.num_samples = s.num_samples == 0 ? 1 : s.num_samples;
  const int64_t sequences = static_cast<int64_t>(job.prompts.size()) * o.num_samples;
  if (sequences > l.max_sequences_per_request) {
    return absl::InvalidArgumentError(absl::StrCat(job.prompts.size(), " prompts x ", o.num_samples,
                                                   " samples exceed "
                                                   "max_sequences_per_request ",
                                                   l.max_sequences_per_request));
  }
  if (s.max_new_tokens < 0 || s.max_new_tokens > l.max_new_tokens_limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_new_tokens ", s.max_new_tokens, " is outside [0, ", l.max_new_tokens_limit, "]"));
  }
  o.max_new_tokens = s.max_new_tokens == 0 ? l.default_max_new_tokens : s.max_new_tokens;
  if (s.min_new_tokens < 0 || s.min_new_tokens > o.max_new_tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_new_tokens ", s.min_new_tokens,
                     " is outside [0, max_new_tokens = ", o.max_new_tokens, "]"));
  }
  o.min_new_tokens = s.min_new_tokens;
  if (s.stop_token_ids.size() > 16) {
    return absl::InvalidArgumentError("more than 16 stop_token_ids");
  }
  for (int64_t id : s.stop_token_ids) {
    if (id < 0 || id >= config.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stop token id ", id, " is outside the vocabulary [0, ", config.vocab_size, ")"));
    }
  }
  o.stop_token_ids = s.stop_token_ids;
  if (!s.ignore_eos && tokenizer_ != nullptr && tokenizer_->eos_id().has_value()) {
    o.stop_token_ids.push_back(*tokenizer_->eos_id());
  }
  if (s.stop_strings.size() > 8) return absl::InvalidArgumentError("more than 8 stop_strings");
  for (const std::string& stop : s.stop_strings) {
    if (stop.empty() || stop.size() > 64) {
      return absl::InvalidArgumentError("each stop string must be 1..64 bytes");
    }
  }
  if (!s.stop_strings.empty() && tokenizer_ == nullptr) {
    return absl::InvalidArgumentError("stop_strings need a tokenizer; this generator has none");
  }
  o.seed = s.seed != 0 ? s.seed : std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  std::set<std::string> ids;
  for (size_t i = 0; i < job.prompts.size(); ++i) {
    const PromptInput& p = job.prompts[i];
    if (p.id.empty()) return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " has no id"));
    if (p.id.size() > 256) {
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, ": id longer than 256 bytes"));
    }
    if (!ids.insert(p.id).second) {
      return absl::InvalidArgumentError(absl::StrCat("prompt '", p.id, "': duplicate id"));
    }
    std::vector<int64_t> tokens;
    if (p.text.has_value()) {
      if (tokenizer_ == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("prompt '", p.id, "' is text, but this generator has no tokenizer"));
      }
      ASSIGN_OR_RETURN(tokens, tokenizer::EncodePromptText(
                                   *tokenizer_, *p.text,
                                   tokenizer::MaxPromptTextBytes(config.max_position_embeddings),
                                   absl::StrCat("prompt '", p.id, "'")));
    } else {
      tokens = p.token_ids;
    }
    if (tokens.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("prompt '", p.id, "' has no tokens"));
    }
    for (size_t t = 0; t < tokens.size(); ++t) {
      if (tokens[t] < 0 || tokens[t] >= config.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("prompt '", p.id, "': token ", t, " is id ",
                                                       tokens[t], ", outside the vocabulary [0, ",
                                                       config.vocab_size, ")"));
      }
    }
    if (static_cast<int64_t>(tokens.size()) + o.max_new_tokens > config.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt '", p.id, "': ", tokens.size(), " tokens + max_new_tokens ", o.max_new_tokens,
          " exceed the context length ", config.max_position_embeddings));
    }
    request->prompts.push_back(std::move(tokens));
  }
  RETURN_IF_ERROR(model::ValidateSampling(config, request->prompts, o));
  request->sequences = static_cast<int>(sequences);
  return absl::OkStatus();
}

absl::Status GeneratorCore::Generate(GenerateJob job,
                                     const std::function<bool(const RolloutResult&)>& emit,
                                     const std::function<bool()>& cancelled) {
  auto shared = std::make_shared<Request>();
  Request& request = *shared;
  request.job = &job;
  request.admitted = Clock::now();
  auto finish = [&](absl::Status status) {
    metrics_->requests->WithLabels({absl::StatusCodeToString(status.code())}).Increment();
    if (status.ok()) metrics_->latency->Observe(Seconds(request.admitted));
    return status;
  };
  if (absl::Status status = Prepare(job, &request); !status.ok()) return finish(status);
  request.snapshot = model_->Current();
  if (job.min_policy_version.has_value() && request.snapshot->version < *job.min_policy_version) {
    return finish(absl::FailedPreconditionError(
        absl::StrCat("the generator holds policy version ", request.snapshot->version,
                     ", below the requested minimum ", *job.min_policy_version)));
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return finish(absl::UnavailableError("the generator is shutting down"));
    if (queued_sequences_ + running_sequences_ + request.sequences > limits_.queue_capacity) {
      return finish(absl::ResourceExhaustedError(
          absl::StrCat("the generator is full: ", queued_sequences_ + running_sequences_, " of ",
                       limits_.queue_capacity, " sequences queued or running; retry later")));
    }
    request.arrival = next_arrival_++;
    queue_.push_back(shared);
    queued_sequences_ += request.sequences;
    ++active_requests_;
    metrics_->queued->Set(queued_sequences_);
  }
  // Hand rollouts to the caller as the runner finishes them; stop early when asked.
  bool first = true;
  absl::Status status;
  while (true) {
    std::deque<RolloutResult> batch;
    bool done = false;
    {
      absl::MutexLock lock(&request.mu);
      request.mu.AwaitWithTimeout(absl::Condition(
                                      +[](Request* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu) {
                                        return r->done || !r->ready.empty();
                                      },
                                      &request),
                                  absl::Milliseconds(50));
      batch.swap(request.ready);
      done = request.done;
      if (done) status = request.status;
    }
    for (RolloutResult& rollout : batch) {
      if (request.cancelled.load()) break;
      if (first) {
        metrics_->first_rollout->Observe(Seconds(request.admitted));
        first = false;
      }
      if (!emit(rollout)) request.cancelled.store(true);
    }
    if (!request.cancelled.load() && cancelled && cancelled()) request.cancelled.store(true);
    if (done) break;
  }
  {
    absl::MutexLock lock(&mu_);
    --active_requests_;
  }
  if (request.cancelled.load() && status.ok()) {
    status = absl::CancelledError("the request was cancelled");
  }
  return finish(status);
}

void GeneratorCore::OrderQueueByPriority() {
  const Clock::time_point now = Clock::now();
  const double aging_ms = std::max(1, limits_.priority_aging_ms);
  auto effective = [&](const std::shared_ptr<Request>& r) {
    const double waited_ms = std::chrono::duration<double, std::milli>(now - r->admitted).count();
    return static_cast<double>(r->job->priority) + std::floor(waited_ms / aging_ms);
  };
  std::stable_sort(queue_.begin(), queue_.end(),
                   [&](const std::shared_ptr<Request>& a, const std::shared_ptr<Request>& b) {
                     // A request with rows already decoding keeps its place at the front.
                     const bool a_started = a->next_row > 0, b_started = b->next_row > 0;
                     if (a_started != b_started) return a_started;
                     const double pa = effective(a), pb = effective(b);
                     if (pa != pb) return pa > pb;
                     return a->arrival < b->arrival;
                   });
}

void GeneratorCore::RunLoop() {
  std::unique_ptr<model::ContinuousBatch> batch;
  std::shared_ptr<weights::ModelSnapshot> batch_snapshot;
  struct Tagged {
    std::shared_ptr<Request> request;
    size_t prompt;
  };
  std::map<uint64_t, Tagged> tags;  // the batch's rows
  uint64_t next_tag = 0;
  // A request whose rows have all left the batch (or failed) is done.
  auto finish_rows = [&](const std::shared_ptr<Request>& r, int rows, const absl::Status& status) {
    r->rows_left -= rows;
    {
      absl::MutexLock lock(&mu_);
      running_sequences_ -= rows;
      metrics_->running->Set(running_sequences_);
    }
    absl::MutexLock lock(&r->mu);
    if (!status.ok() && r->status.ok()) r->status = status;
    if (r->rows_left == 0 && r->next_row == r->sequences) r->done = true;
  };
  while (true) {
    // 1. Admit queued rows, oldest request first, while they fit.
    struct Admitted {
      std::shared_ptr<Request> request;
      int first_row, rows;
    };
    std::vector<Admitted> admitted;
    {
      absl::MutexLock lock(&mu_);
      const bool idle = batch == nullptr || batch->empty();
      if (idle) {
        mu_.Await(absl::Condition(
            +[](GeneratorCore* core) ABSL_EXCLUSIVE_LOCKS_REQUIRED(core->mu_) {
              return core->stopping_ || !core->queue_.empty();
            },
            this));
        if (queue_.empty()) return;  // stopping, nothing left
      }
      OrderQueueByPriority();
      int64_t count = 0, longest = 0, most_new = 0;
      while (!queue_.empty()) {
        const std::shared_ptr<Request>& r = queue_.front();
        if (r->cancelled.load()) {
          // Never started: its rows are dropped here.
          queued_sequences_ -= r->sequences - r->next_row;
          running_sequences_ += r->sequences - r->next_row;
          admitted.push_back({r, r->next_row, r->sequences - r->next_row});
          r->next_row = r->sequences;
          queue_.pop_front();
          continue;
        }
        if (batch == nullptr) {
          batch = std::make_unique<model::ContinuousBatch>(
              *r->snapshot->model, limits_.max_batch_size,
              r->snapshot->model->config().max_position_embeddings);
          batch_snapshot = r->snapshot;
        } else if (batch->empty() && count == 0 && batch_snapshot != r->snapshot) {
          // New weights: the same batch (and its cache memory) decodes with them.
          if (batch->Rebind(*r->snapshot->model).ok()) batch_snapshot = r->snapshot;
        }
        if (r->snapshot != batch_snapshot) break;  // waits for the older rows to leave
        const int64_t k = r->options.num_samples;
        int taken = 0;
        while (r->next_row + taken < r->sequences) {
          const std::vector<int64_t>& prompt = r->prompts[(r->next_row + taken) / k];
          const int64_t length = std::max<int64_t>(longest, prompt.size());
          const int64_t new_tokens = std::max<int64_t>(most_new, r->options.max_new_tokens);
          if (!batch->Fits(count + 1, length, new_tokens)) break;
          ++count;
          longest = length;
          most_new = new_tokens;
          ++taken;
        }
        if (taken > 0) {
          admitted.push_back({r, r->next_row, taken});
          r->next_row += taken;
          queued_sequences_ -= taken;
          running_sequences_ += taken;
        }
        if (r->next_row < r->sequences) break;  // the rest waits for free rows
        queue_.pop_front();
      }
      metrics_->queued->Set(queued_sequences_);
      metrics_->running->Set(running_sequences_);
    }
    std::vector<model::BatchSequence> joining;
    std::vector<uint64_t> joining_tags;
    for (const Admitted& a : admitted) {
      a.request->rows_left += a.rows;
      if (a.request->cancelled.load()) {
        finish_rows(a.request, a.rows, absl::OkStatus());
        continue;
      }
      const int64_t k = a.request->options.num_samples;
      for (int row = a.first_row; row < a.first_row + a.rows; ++row) {
        model::BatchSequence sequence;
        sequence.prompt = a.request->prompts[row / k];
        sequence.options = a.request->options;
        sequence.sample_index = row % k;
        sequence.tag = next_tag++;
        if (!a.request->job->sampling.stop_strings.empty() && tokenizer_ != nullptr) {
          sequence.stop_after = StopStringRule(tokenizer_, a.request->job->sampling.stop_strings);
        }
        tags[sequence.tag] = {a.request, static_cast<size_t>(row / k)};
        joining_tags.push_back(sequence.tag);
        joining.push_back(std::move(sequence));
      }
    }
    // 2-3. This step's model work, inside the generator's one model boundary: an exception
    // fails every row of the batch (Add or Step may have left it half changed), and the batch
    // starts over.
    int64_t rows = 0;
    absl::StatusOr<std::vector<model::FinishedSequence>> finished =
        TorchBoundary("decoding", [&]() -> absl::StatusOr<std::vector<model::FinishedSequence>> {
          if (!joining.empty()) {
            metrics_->version->Set(static_cast<double>(model_->Current()->version));
            // A refusal (not a throw) leaves the batch as it was: only the newcomers fail.
            const absl::Status added = batch->Add(joining);
            if (!added.ok()) {
              for (uint64_t tag : joining_tags) {
                finish_rows(tags[tag].request, 1, added);
                tags.erase(tag);
              }
            }
          }
          if (batch == nullptr || batch->empty()) return std::vector<model::FinishedSequence>();
          // Rows of cancelled requests leave.
          std::vector<uint64_t> dropped;
          batch->Drop([&](uint64_t tag) {
            const bool cancel = tags[tag].request->cancelled.load();
            if (cancel) dropped.push_back(tag);
            return cancel;
          });
          for (uint64_t tag : dropped) {
            finish_rows(tags[tag].request, 1, absl::OkStatus());
            tags.erase(tag);
          }
          if (batch->empty()) return std::vector<model::FinishedSequence>();
          // One decoding step; finished sequences go to their requests.
          rows = batch->active();
          metrics_->batch->Observe(static_cast<double>(rows));
          return batch->Step();
        });
    if (!finished.ok()) {
      for (auto& [tag, tagged] : tags) {
        finish_rows(tagged.request, 1, finished.status());
        tagged.request->cancelled.store(true);  // its rows still queued are dropped
      }
      tags.clear();
      batch.reset();
      batch_snapshot.reset();
      continue;
    }
    if (rows == 0) continue;
    for (model::FinishedSequence& f : *finished) {
      const Tagged tagged = tags[f.tag];
      tags.erase(f.tag);
      if (!f.error.ok()) {
        // This sequence failed alone: its request fails, the batch's other rows go on.
        finish_rows(
            tagged.request, 1,
            absl::Status(f.error.code(),
                         absl::StrCat("prompt '", tagged.request->job->prompts[tagged.prompt].id,
                                      "': ", f.error.message())));
        tagged.request->cancelled.store(true);  // its remaining rows are dropped
        continue;
      }
      RolloutResult out;
      Finalize(tagged.request.get(), f.result, tagged.request->job->prompts[tagged.prompt].id,
               tagged.request->prompts[tagged.prompt], &out);
      metrics_->rollouts->Increment(1.0);
      {
        absl::MutexLock lock(&tagged.request->mu);
        tagged.request->ready.push_back(std::move(out));
      }
      finish_rows(tagged.request, 1, absl::OkStatus());
    }
    metrics_->tokens->Increment(static_cast<double>(rows));
    absl::MutexLock lock(&mu_);
    recent_tokens_.emplace_back(
        std::chrono::duration<double>(Clock::now().time_since_epoch()).count(), rows);
    while (recent_tokens_.size() > 1 &&
           recent_tokens_.front().first < recent_tokens_.back().first - 60) {
      recent_tokens_.pop_front();
    }
  }
}

void GeneratorCore::Finalize(Request* request, const model::SampledSequence& seq,
                             const std::string& id, const std::vector<int64_t>& prompt,
                             RolloutResult* out) const {
  out->prompt_id = id;
  out->sample_index = seq.sample_index;
  out->prompt_ids = prompt;
  out->response_ids = seq.tokens;
  // Stop strings ended the sequence while it decoded (StopStringRule), as kStop.
  out->finish = seq.finish_reason == model::FinishReason::kStop ? Finish::kStop : Finish::kLength;
  if (tokenizer_ != nullptr) {
    std::vector<int32_t> ids(out->response_ids.begin(), out->response_ids.end());
    out->response_text =
        tokenizer::ToValidUtf8(tokenizer_->Decode(ids, {.skip_special = true}).value_or(""));
    out->has_text = true;
  }
  if (request->job->sampling.return_logprobs) {
    out->logprobs.assign(seq.logprobs.begin(), seq.logprobs.begin() + out->response_ids.size());
  }
  out->policy_version = request->snapshot->version;
  out->seconds = Seconds(request->admitted);
}

}  // namespace plumb::generator
