#include "services/plumb-reference/reference_core.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/model/logprobs.h"
#include "common/model/sampler.h"
#include "common/status/status_macros.h"
#include "common/status/torch_status.h"
#include "common/tokenizer/prompt_text.h"

namespace plumb::reference {

struct ReferenceCore::Pending {
  const LogProbsJob* job;
  absl::StatusOr<LogProbsOutcome> result = absl::UnknownError("not run");
  absl::Notification done;
};

struct ReferenceCore::Metrics {
  metrics::CounterFamily* requests;
  metrics::Histogram* latency;
  metrics::Histogram* batch;
  metrics::Counter* tokens;
  metrics::Gauge* queue;
  metrics::Gauge* version;
};

absl::StatusOr<std::unique_ptr<ReferenceCore>> ReferenceCore::Create(
    weights::VersionedModel* model, std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
    ReferenceLimits limits, metrics::Registry* registry) {
  auto m = std::make_unique<Metrics>();
  ASSIGN_OR_RETURN(m->requests,
                   registry->AddCounter("plumb_reference_logprobs_requests_total",
                                        "LogProbs requests by result code.", {"code"}));
  ASSIGN_OR_RETURN(metrics::HistogramFamily * latency,
                   registry->AddHistogram("plumb_reference_logprobs_seconds",
                                          "LogProbs latency, queueing included."));
  m->latency = &latency->WithLabels({});
  ASSIGN_OR_RETURN(std::vector<double> sizes, metrics::ExponentialBuckets(1, 2, 10));
  ASSIGN_OR_RETURN(metrics::HistogramFamily * batch,
                   registry->AddHistogram("plumb_reference_batch_size",
                                          "Sequences per forward pass.", {}, sizes));
  m->batch = &batch->WithLabels({});
  ASSIGN_OR_RETURN(metrics::CounterFamily * tokens,
                   registry->AddCounter("plumb_reference_tokens_total",
                                        "Prompt and response tokens evaluated."));
  m->tokens = &tokens->WithLabels({});
  ASSIGN_OR_RETURN(metrics::GaugeFamily * queue,
                   registry->AddGauge("plumb_reference_queued_requests",
                                      "Requests waiting for the runner thread."));
  m->queue = &queue->WithLabels({});
  ASSIGN_OR_RETURN(metrics::GaugeFamily * version,
                   registry->AddGauge("plumb_reference_policy_version",
                                      "Policy version of the reference weights in use."));
  m->version = &version->WithLabels({});
  m->version->Set(static_cast<double>(model->Current()->version));
  return std::unique_ptr<ReferenceCore>(
      new ReferenceCore(model, std::move(tokenizer), limits, std::move(m)));
}

ReferenceCore::ReferenceCore(weights::VersionedModel* model,
                             std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                             ReferenceLimits limits, std::unique_ptr<Metrics> metrics)
    : model_(model),
      tokenizer_(std::move(tokenizer)),
      limits_(limits),
      metrics_(std::move(metrics)) {
  runner_ = std::thread([this] { RunLoop(); });
}

ReferenceCore::~ReferenceCore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  runner_.join();
}

int ReferenceCore::queued() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

absl::Status ReferenceCore::Validate(const LogProbsJob& job) const {
  const model::ModelConfig& config = model_->config();
  if (job.items.empty()) return absl::InvalidArgumentError("no items");
  if (static_cast<int>(job.items.size()) > limits_.max_items_per_request) {
    return absl::InvalidArgumentError(absl::StrCat(
        job.items.size(), " items exceed max_items_per_request ", limits_.max_items_per_request));
  }
  if (!std::isfinite(job.temperature) ||
      !(job.temperature == 0 || job.temperature >= model::kMinTemperature)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "temperature must be 0 (meaning 1) or a finite number >= ", model::kMinTemperature,
        ", got ", job.temperature));
  }
  std::set<std::string> ids;
  int64_t tokens = 0;
  for (size_t i = 0; i < job.items.size(); ++i) {
    const LogProbsItem& item = job.items[i];
    const std::string where = absl::StrCat("item ", i, " ('", item.id, "')");
    if (item.id.empty()) return absl::InvalidArgumentError(absl::StrCat("item ", i, " has no id"));
    if (item.id.size() > 256) {
      return absl::InvalidArgumentError(absl::StrCat("item ", i, ": id longer than 256 bytes"));
    }
    if (!ids.insert(item.id).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": duplicate id"));
    }
    if (item.prompt.empty())
      return absl::InvalidArgumentError(absl::StrCat(where, ": empty prompt"));
    if (item.response.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": empty response"));
    }
    const int64_t length = static_cast<int64_t>(item.prompt.size() + item.response.size());
    if (length > config.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", length,
                                                     " tokens exceed the context length ",
                                                     config.max_position_embeddings));
    }
    tokens += length;
    for (const auto* part : {&item.prompt, &item.response}) {
      for (size_t t = 0; t < part->size(); ++t) {
        const int64_t id = (*part)[t];
        if (id < 0 || id >= config.vocab_size) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": ", part == &item.prompt ? "prompt" : "response", " token ", t,
                           " is id ", id, ", outside the vocabulary [0, ", config.vocab_size, ")"));
        }
      }
    }
  }
  if (tokens > limits_.max_tokens_per_request) {
    return absl::InvalidArgumentError(absl::StrCat(tokens, " tokens exceed max_tokens_per_request ",
                                                   limits_.max_tokens_per_request));
  }
  return absl::OkStatus();
}

absl::Status ReferenceCore::TokenizeText(LogProbsJob* job) const {
  if (static_cast<int>(job->items.size()) > limits_.max_items_per_request) {
    return absl::InvalidArgumentError(absl::StrCat(
        job->items.size(), " items exceed max_items_per_request ", limits_.max_items_per_request));
  }
  const int64_t max_bytes = tokenizer::MaxPromptTextBytes(model_->config().max_position_embeddings);
  for (size_t i = 0; i < job->items.size(); ++i) {
    LogProbsItem& item = job->items[i];
    for (const bool prompt : {true, false}) {
      std::optional<std::string>& text = prompt ? item.prompt_text : item.response_text;
      if (!text.has_value()) continue;
      const std::string what = absl::StrCat("items[", i, "].", prompt ? "prompt" : "response");
      std::vector<int64_t>& ids = prompt ? item.prompt : item.response;
      if (!ids.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": give token ids or text, not both"));
      }
      if (tokenizer_ == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            what, "_text: this reference has no tokenizer (reference.model.tokenizer); send ids"));
      }
      ASSIGN_OR_RETURN(
          ids, prompt
                   ? tokenizer::EncodePromptText(*tokenizer_, *text, max_bytes, what + "_text")
                   : tokenizer::EncodeResponseText(*tokenizer_, *text, max_bytes, what + "_text"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LogProbsOutcome> ReferenceCore::LogProbs(LogProbsJob job) {
  const auto start = std::chrono::steady_clock::now();
  auto finish = [&](absl::StatusOr<LogProbsOutcome> result) {
    metrics_->requests->WithLabels({absl::StatusCodeToString(result.status().code())}).Increment();
    metrics_->latency->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return result;
  };
  if (absl::Status status = TokenizeText(&job); !status.ok()) return finish(status);
  if (absl::Status status = Validate(job); !status.ok()) return finish(status);
  auto shared = std::make_shared<Pending>();
  Pending& pending = *shared;
  pending.job = &job;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return finish(absl::UnavailableError("the reference service is shutting down"));
    if (static_cast<int>(queue_.size()) >= limits_.max_queued_requests) {
      return finish(absl::ResourceExhaustedError(absl::StrCat(
          "the request queue is full (", limits_.max_queued_requests, " requests); retry later")));
    }
    queue_.push_back(shared);
    metrics_->queue->Set(static_cast<double>(queue_.size()));
  }
  pending.done.WaitForNotification();
  if (pending.result.ok()) {
    pending.result->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return finish(std::move(pending.result));
}

void ReferenceCore::RunLoop() {
  while (true) {
    std::shared_ptr<Pending> pending;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ReferenceCore* core) ABSL_EXCLUSIVE_LOCKS_REQUIRED(core->mu_) {
            return core->stopping_ || !core->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left
      pending = queue_.front();
      queue_.pop_front();
      metrics_->queue->Set(static_cast<double>(queue_.size()));
    }
    // The reference's one model boundary: nothing Run throws leaves the runner thread.
    pending->result = TorchBoundary("the forward pass", [&] { return Run(*pending->job); });
    pending->done.Notify();
  }
}

absl::StatusOr<LogProbsOutcome> ReferenceCore::Run(const LogProbsJob& job) {
  std::shared_ptr<weights::ModelSnapshot> snapshot = model_->Current();
  metrics_->version->Set(static_cast<double>(snapshot->version));
  if (job.expected_version.has_value() && *job.expected_version != snapshot->version) {
    return absl::FailedPreconditionError(absl::StrCat("the reference holds version ",
                                                      snapshot->version, ", the request expects ",
                                                      *job.expected_version));
  }
  LogProbsOutcome outcome;
  outcome.version = snapshot->version;
  outcome.results.resize(job.items.size());
  const double temperature = job.temperature > 0 ? job.temperature : 1.0;
  torch::NoGradGuard no_grad;
  const size_t step = static_cast<size_t>(std::max(1, limits_.max_batch_size));
  for (size_t first = 0; first < job.items.size(); first += step) {
    const size_t last = std::min(job.items.size(), first + step);
    std::vector<std::vector<int64_t>> prompts, responses;
    for (size_t i = first; i < last; ++i) {
      prompts.push_back(job.items[i].prompt);
      responses.push_back(job.items[i].response);
      metrics_->tokens->Increment(
          static_cast<double>(job.items[i].prompt.size() + job.items[i].response.size()));
    }
    metrics_->batch->Observe(static_cast<double>(last - first));
    ASSIGN_OR_RETURN(model::ResponseScores scores,
                     model::ScoreResponses(*snapshot->model, prompts, responses, temperature));
    const at::Tensor logprobs = scores.logprobs.to(torch::kCPU).to(torch::kFloat).contiguous();
    const float* data = logprobs.data_ptr<float>();
    const int64_t width = logprobs.size(1);
    for (size_t i = first; i < last; ++i) {
      LogProbsItemResult& r = outcome.results[i];
      const size_t n = job.items[i].response.size();
      const float* row = data + (i - first) * width;
      for (size_t t = 0; t < n; ++t) r.sum += row[t];
      if (!job.sum_only) r.logprobs.assign(row, row + n);
      r.num_tokens = static_cast<int32_t>(n);
      if (job.items[i].prompt_text.has_value()) r.prompt_from_text = job.items[i].prompt;
      if (job.items[i].response_text.has_value()) r.response_from_text = job.items[i].response;
      if (!std::isfinite(r.sum)) {
        return absl::InternalError(
            absl::StrCat("item '", job.items[i].id, "': the model produced a non-finite log-prob"));
      }
    }
  }
  return outcome;
}

}  // namespace plumb::reference
