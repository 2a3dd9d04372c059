#include "services/plumb-generator/generator_core.h"

#include <torch/torch.h>

#include <chrono>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/tokenizer/utf8_runs.h"

namespace plumb::generator {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

bool SameSampling(const model::SamplingOptions& a, const model::SamplingOptions& b) {
  return a.temperature == b.temperature && a.top_k == b.top_k && a.top_p == b.top_p &&
         a.max_new_tokens == b.max_new_tokens && a.min_new_tokens == b.min_new_tokens &&
         a.stop_token_ids == b.stop_token_ids && a.num_samples == b.num_samples;
}

}  // namespace

struct GeneratorCore::Request {
  const GenerateJob* job = nullptr;
  std::vector<std::vector<int64_t>> prompts;
  model::SamplingOptions options;  // `seed` is the request's (never 0 here)
  std::shared_ptr<weights::ModelSnapshot> snapshot;
  int sequences = 0;
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
                                       "Sequences decoded together per Sample call.", sizes));
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
      if (tokenizer_->bos_id().has_value()) tokens.push_back(*tokenizer_->bos_id());
      for (int32_t id : tokenizer_->Encode(*p.text)) tokens.push_back(id);
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

void GeneratorCore::RunLoop() {
  while (true) {
    std::vector<std::shared_ptr<Request>> group;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](GeneratorCore* core) ABSL_EXCLUSIVE_LOCKS_REQUIRED(core->mu_) {
            return core->stopping_ || !core->queue_.empty();
          },
          this));
      if (queue_.empty()) return;
      // The oldest request, plus every queued request that samples the same way from the same
      // snapshot, up to one batch of sequences.
      std::shared_ptr<Request> head = queue_.front();
      queue_.pop_front();
      group.push_back(head);
      int sequences = head->sequences;
      for (auto it = queue_.begin(); it != queue_.end();) {
        const std::shared_ptr<Request>& r = *it;
        if (r->snapshot == head->snapshot && SameSampling(r->options, head->options) &&
            sequences + r->sequences <= limits_.max_batch_size) {
          sequences += r->sequences;
          group.push_back(r);
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
      for (const std::shared_ptr<Request>& r : group) {
        queued_sequences_ -= r->sequences;
        running_sequences_ += r->sequences;
      }
      metrics_->queued->Set(queued_sequences_);
      metrics_->running->Set(running_sequences_);
    }
    RunGroup(group);
    absl::MutexLock lock(&mu_);
    for (const std::shared_ptr<Request>& r : group) running_sequences_ -= r->sequences;
    metrics_->running->Set(running_sequences_);
  }
}

void GeneratorCore::RunGroup(const std::vector<std::shared_ptr<Request>>& group) {
  // Every prompt of the group, with the request and index it came from.
  struct Row {
    Request* request;
    size_t prompt;
  };
  std::vector<Row> rows;
  for (const std::shared_ptr<Request>& r : group) {
    for (size_t p = 0; p < r->prompts.size(); ++p) rows.push_back({r.get(), p});
  }
  const model::SamplingOptions& shared = group.front()->options;
  const int64_t k = shared.num_samples;
  const size_t per_call = static_cast<size_t>(std::max<int64_t>(1, limits_.max_batch_size / k));
  std::shared_ptr<weights::ModelSnapshot> snapshot = group.front()->snapshot;
  metrics_->version->Set(static_cast<double>(model_->Current()->version));
  std::map<Request*, absl::Status> failures;
  for (size_t first = 0; first < rows.size(); first += per_call) {
    std::vector<Row> chunk;
    for (size_t i = first; i < std::min(rows.size(), first + per_call); ++i) {
      if (!rows[i].request->cancelled.load() && !failures.count(rows[i].request)) {
        chunk.push_back(rows[i]);
      }
    }
    if (chunk.empty()) continue;
    std::vector<std::vector<int64_t>> prompts;
    model::SamplingOptions options = shared;
    options.prompt_seeds.clear();
    for (const Row& row : chunk) {
      prompts.push_back(row.request->prompts[row.prompt]);
      options.prompt_seeds.push_back(row.request->options.seed);
    }
    metrics_->batch->Observe(static_cast<double>(prompts.size() * k));
    absl::StatusOr<std::vector<model::SampledSequence>> sampled;
    try {
      torch::NoGradGuard no_grad;
      sampled = model::Sample(*snapshot->model, prompts, options);
    } catch (const c10::Error& e) {
      sampled = absl::InternalError(absl::StrCat("sampling failed: ", e.what_without_backtrace()));
    }
    if (!sampled.ok()) {
      for (const Row& row : chunk) failures[row.request] = sampled.status();
      continue;
    }
    int64_t tokens = 0;
    for (const model::SampledSequence& seq : *sampled) {
      const Row& row = chunk[seq.prompt_index];
      RolloutResult out;
      Finalize(row.request, seq, row.request->job->prompts[row.prompt].id,
               row.request->prompts[row.prompt], &out);
      tokens += static_cast<int64_t>(seq.tokens.size());
      absl::MutexLock lock(&row.request->mu);
      row.request->ready.push_back(std::move(out));
    }
    metrics_->tokens->Increment(static_cast<double>(tokens));
    metrics_->rollouts->Increment(static_cast<double>(sampled->size()));
    absl::MutexLock lock(&mu_);
    recent_tokens_.emplace_back(
        std::chrono::duration<double>(Clock::now().time_since_epoch()).count(), tokens);
    while (recent_tokens_.size() > 1 &&
           recent_tokens_.front().first < recent_tokens_.back().first - 60) {
      recent_tokens_.pop_front();
    }
  }
  for (const std::shared_ptr<Request>& r : group) {
    absl::MutexLock lock(&r->mu);
    auto it = failures.find(r.get());
    if (it != failures.end()) r->status = it->second;
    r->done = true;
  }
}

void GeneratorCore::Finalize(Request* request, const model::SampledSequence& seq,
                             const std::string& id, const std::vector<int64_t>& prompt,
                             RolloutResult* out) const {
  out->prompt_id = id;
  out->sample_index = seq.sample_index;
  out->prompt_ids = prompt;
  out->response_ids = seq.tokens;
  out->finish = seq.finish_reason == model::FinishReason::kStop ? Finish::kStop : Finish::kLength;
  const std::vector<std::string>& stops = request->job->sampling.stop_strings;
  if (tokenizer_ != nullptr) {
    // Stop strings: keep every token up to the one that completes the first match (a match
    // cannot end before min_new_tokens tokens).
    std::string text;
    if (!stops.empty()) {
      std::vector<int32_t> ids;
      const size_t min_tokens = static_cast<size_t>(request->options.min_new_tokens);
      for (size_t t = 0; t < out->response_ids.size(); ++t) {
        ids.push_back(static_cast<int32_t>(out->response_ids[t]));
        if (t + 1 < min_tokens) continue;
        absl::StatusOr<std::string> decoded = tokenizer_->Decode(ids, {.skip_special = true});
        if (!decoded.ok()) break;
        bool hit = false;
        for (const std::string& stop : stops) hit = hit || absl::StrContains(*decoded, stop);
        if (hit) {
          out->response_ids.resize(t + 1);
          out->finish = Finish::kStop;
          break;
        }
      }
    }
    std::vector<int32_t> ids(out->response_ids.begin(), out->response_ids.end());
    out->response_text =
        tokenizer::ToValidUtf8(tokenizer_->Decode(ids, {.skip_special = true}).value_or(""));
  }
  if (request->job->sampling.return_logprobs) {
    out->logprobs.assign(seq.logprobs.begin(), seq.logprobs.begin() + out->response_ids.size());
  }
  out->policy_version = request->snapshot->version;
  out->seconds = Seconds(request->admitted);
}

}  // namespace plumb::generator
