#include "common/model/sampler.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/model/continuous_batch.h"
#include "common/status/status_macros.h"

namespace plumb::model {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

void SampleRowsTensor(const at::Tensor& scaled, const SamplingOptions& options,
                      const std::vector<double>& uniforms, std::vector<int64_t>* tokens,
                      std::vector<float>* logprobs) {
  const int64_t vocab = scaled.size(-1);
  at::Tensor chosen;
  if (options.temperature == 0) {
    chosen = scaled.argmax(-1);
  } else {
    at::Tensor keep = torch::ones_like(scaled, torch::kBool);
    if (options.top_k > 0 && options.top_k < vocab) {
      keep &=
          scaled >= std::get<0>(scaled.topk(options.top_k, -1)).narrow(-1, options.top_k - 1, 1);
    }
    const double inf = std::numeric_limits<float>::infinity();
    if (options.top_p < 1.0) {
      const at::Tensor sorted =
          std::get<0>(scaled.masked_fill(keep.logical_not(), -inf).sort(-1, true));
      const at::Tensor probs = sorted.softmax(-1);
      const at::Tensor before = probs.cumsum(-1) - probs;
      const at::Tensor threshold =
          sorted.masked_fill(before >= options.top_p, inf).amin(-1, /*keepdim=*/true);
      keep &= scaled >= threshold;
    }
    const at::Tensor weights =
        (scaled - std::get<0>(scaled.max(-1, true))).exp().masked_fill(keep.logical_not(), 0);
    const at::Tensor cdf = weights.cumsum(-1);
    const at::Tensor u = torch::tensor(uniforms, torch::kDouble).to(scaled.device());
    const at::Tensor target = (u.to(cdf.dtype()) * cdf.select(-1, vocab - 1)).unsqueeze(-1);
    chosen = at::searchsorted(cdf, target, false, /*right=*/true).clamp_max(vocab - 1).squeeze(-1);
  }
  const at::Tensor logp = scaled.log_softmax(-1).gather(-1, chosen.unsqueeze(-1)).squeeze(-1);
  const at::Tensor chosen_cpu = chosen.to(torch::kCPU).contiguous();
  const at::Tensor logp_cpu = logp.to(torch::kCPU).contiguous();
  tokens->assign(chosen_cpu.data_ptr<int64_t>(),
                 chosen_cpu.data_ptr<int64_t>() + chosen_cpu.numel());
  logprobs->assign(logp_cpu.data_ptr<float>(), logp_cpu.data_ptr<float>() + logp_cpu.numel());
}

uint64_t PromptKey(const std::vector<int64_t>& prompt) {
  uint64_t h = Mix(prompt.size());
  for (int64_t id : prompt) h = Mix(h ^ static_cast<uint64_t>(id));
  return h;
}

double SamplingUniform(uint64_t seed, uint64_t prompt_key, int64_t sample, int64_t step) {
  const uint64_t h = Mix(Mix(Mix(Mix(seed) ^ prompt_key) ^ static_cast<uint64_t>(sample)) ^
                         static_cast<uint64_t>(step));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

absl::Status ValidateSampling(const ModelConfig& config,
                              const std::vector<std::vector<int64_t>>& prompts,
                              const SamplingOptions& options) {
  if (prompts.empty()) return absl::InvalidArgumentError("no prompts to sample from");
  if (!options.prompt_seeds.empty() && options.prompt_seeds.size() != prompts.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.prompt_seeds.size(), " prompt seeds for ", prompts.size(), " prompts"));
  }
  if (!(options.temperature >= 0) || !std::isfinite(options.temperature)) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature must be a finite number >= 0, got ", options.temperature));
  }
  if (options.temperature > 0 && options.temperature < kMinTemperature) {
    return absl::InvalidArgumentError(absl::StrCat("temperature ", options.temperature,
                                                   " is below the smallest supported, ",
                                                   kMinTemperature, "; use 0 for greedy decoding"));
  }
  if (!(options.top_p > 0 && options.top_p <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p must be in (0, 1], got ", options.top_p));
  }
  if (options.top_k < 0) {
    return absl::InvalidArgumentError(absl::StrCat("top_k must be >= 0, got ", options.top_k));
  }
  if (options.num_samples < 1 || options.max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_samples and max_new_tokens must be >= 1, got ", options.num_samples,
                     " and ", options.max_new_tokens));
  }
  if (options.min_new_tokens < 0 || options.min_new_tokens > options.max_new_tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_new_tokens ", options.min_new_tokens,
                     " is outside [0, max_new_tokens = ", options.max_new_tokens, "]"));
  }
  for (int64_t id : options.stop_token_ids) {
    if (id < 0 || id >= config.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stop token id ", id, " is outside the vocabulary [0, ", config.vocab_size, ")"));
    }
  }
  for (size_t p = 0; p < prompts.size(); ++p) {
    if (prompts[p].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("prompt ", p, " is empty"));
    }
    for (size_t i = 0; i < prompts[p].size(); ++i) {
      const int64_t id = prompts[p][i];
      if (id < 0 || id >= config.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("prompt ", p, ", position ", i, ": token id ", id,
                         " is outside the vocabulary [0, ", config.vocab_size, ")"));
      }
    }
    const int64_t total = static_cast<int64_t>(prompts[p].size()) + options.max_new_tokens;
    if (total > config.max_position_embeddings) {
      return absl::InvalidArgumentError(
          absl::StrCat("prompt ", p, ": ", prompts[p].size(), " tokens + max_new_tokens ",
                       options.max_new_tokens, " = ", total, " exceeds the context of ",
                       config.max_position_embeddings, " positions"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SampledSequence>> Sample(
    TransformerImpl& model, const std::vector<std::vector<int64_t>>& prompts,
    const SamplingOptions& options) {
  RETURN_IF_ERROR(ValidateSampling(model.config(), prompts, options));
  // Row r = prompt r / K, sample r % K; every row joins one batch at once and it steps until
  // all have finished.
  const int64_t k = options.num_samples;
  const int64_t rows = static_cast<int64_t>(prompts.size()) * k;
  int64_t longest = 0;
  std::vector<BatchSequence> sequences(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r / k;
    longest = std::max<int64_t>(longest, prompts[p].size());
    BatchSequence& s = sequences[r];
    s.prompt = prompts[p];
    s.options = options;
    s.options.num_samples = 1;
    s.options.prompt_seeds.clear();
    if (!options.prompt_seeds.empty()) s.options.seed = options.prompt_seeds[p];
    s.sample_index = r % k;
    s.tag = static_cast<uint64_t>(r);
  }
  ContinuousBatch batch(model, rows, longest + options.max_new_tokens, options.use_kv_cache);
  RETURN_IF_ERROR(batch.Add(sequences));
  std::vector<SampledSequence> results(rows);
  while (!batch.empty()) {
    ASSIGN_OR_RETURN(std::vector<FinishedSequence> finished, batch.Step());
    for (FinishedSequence& f : finished) {
      const int64_t r = static_cast<int64_t>(f.tag);
      if (!f.error.ok()) {
        return Annotate(f.error, absl::StrCat("prompt ", r / k, ", sample ", r % k));
      }
      results[r] = std::move(f.result);
      results[r].prompt_index = r / k;
    }
  }
  return results;
}

}  // namespace plumb::model
