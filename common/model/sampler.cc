#include "common/model/sampler.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/model/cpu_decode.h"

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
  if (absl::Status status = ValidateSampling(model.config(), prompts, options); !status.ok()) {
    return status;
  }
  torch::NoGradGuard no_grad;
  const auto device = model.embed_tokens().device();
  const int64_t num_prompts = static_cast<int64_t>(prompts.size());
  const int64_t k = options.num_samples;
  const int64_t rows = num_prompts * k;
  int64_t longest = 0;
  for (const auto& p : prompts) longest = std::max<int64_t>(longest, p.size());

  // Left-padded prompts, each repeated K times: row r = prompt r / K, sample r % K.
  at::Tensor ids = torch::zeros({rows, longest}, torch::kLong);
  at::Tensor mask = torch::zeros({rows, longest}, torch::kLong);
  for (int64_t r = 0; r < rows; ++r) {
    const auto& prompt = prompts[r / k];
    const int64_t pad = longest - static_cast<int64_t>(prompt.size());
    ids[r]
        .narrow(0, pad, prompt.size())
        .copy_(torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end()), torch::kLong));
    mask[r].narrow(0, pad, prompt.size()).fill_(1);
  }
  ids = ids.to(device);
  mask = mask.to(device);
  KvCache cache;
  if (options.use_kv_cache) cache = model.NewCache(rows, longest + options.max_new_tokens);
  at::Tensor hidden = model.Forward(ids, mask, {}, options.use_kv_cache ? &cache : nullptr);
  at::Tensor last_hidden = hidden.select(1, longest - 1);

  std::vector<SampledSequence> results(rows);
  for (int64_t r = 0; r < rows; ++r) {
    results[r].prompt_index = r / k;
    results[r].sample_index = r % k;
  }
  std::vector<bool> done(rows, false);
  int64_t remaining = rows;
  const std::set<int64_t> stop_ids(options.stop_token_ids.begin(), options.stop_token_ids.end());
  const double temperature = options.temperature > 0 ? options.temperature : 1.0;
  const bool on_cpu = CanDecodeOnCpu(model);
  at::Tensor ones = torch::ones({rows, 1}, torch::dtype(torch::kLong).device(device));
  std::vector<double> uniforms(rows);
  std::vector<uint64_t> prompt_keys;
  for (const auto& prompt : prompts) prompt_keys.push_back(PromptKey(prompt));
  std::vector<int64_t> tokens;
  std::vector<float> logprobs;
  for (int64_t step = 0; step < options.max_new_tokens && remaining > 0; ++step) {
    at::Tensor scaled = model.Logits(last_hidden).to(torch::kFloat);
    if (temperature != 1.0) scaled = scaled / temperature;
    if (!torch::isfinite(scaled).all().item<bool>()) {
      return absl::InternalError(absl::StrCat("the model's logits are not finite at step ", step,
                                              " (NaN or Inf: are its weights corrupt?)"));
    }
    for (int64_t r = 0; r < rows; ++r) {
      const uint64_t seed =
          options.prompt_seeds.empty() ? options.seed : options.prompt_seeds[r / k];
      uniforms[r] = SamplingUniform(seed, prompt_keys[r / k], r % k, step);
    }
    // Before min_new_tokens, sample from logits where the stop tokens cannot win.
    const bool suppress = step < options.min_new_tokens && !stop_ids.empty();
    at::Tensor sampled_from = scaled;
    if (suppress) {
      sampled_from = scaled.clone();
      sampled_from.index_fill_(
          1, torch::tensor(options.stop_token_ids, torch::kLong).to(scaled.device()),
          -std::numeric_limits<float>::infinity());
    }
    if (on_cpu) {
      SampleRowsCpu(sampled_from, options.temperature == 0, options.top_k, options.top_p, uniforms,
                    &tokens, &logprobs);
    } else {
      SampleRowsTensor(sampled_from, options, uniforms, &tokens, &logprobs);
    }
    if (suppress) {
      // Report each token's log-prob under the full distribution.
      const at::Tensor full =
          at::log_softmax(scaled, -1)
              .gather(1, torch::tensor(tokens, torch::kLong).to(scaled.device()).unsqueeze(1))
              .squeeze(1)
              .to(torch::kCPU);
      for (int64_t r = 0; r < rows; ++r) logprobs[r] = full[r].item<float>();
    }
    for (int64_t r = 0; r < rows; ++r) {
      if (done[r]) continue;
      results[r].tokens.push_back(tokens[r]);
      results[r].logprobs.push_back(logprobs[r]);
      if (stop_ids.count(tokens[r]) > 0) {
        results[r].finish_reason = FinishReason::kStop;
        done[r] = true;
        --remaining;
      }
    }
    if (remaining == 0 || step + 1 == options.max_new_tokens) break;
    const at::Tensor next = torch::tensor(tokens, torch::kLong).to(device);
    if (options.use_kv_cache && on_cpu) {
      last_hidden = DecodeStepCpu(model, next, &cache);
    } else if (options.use_kv_cache) {
      last_hidden = model.Forward(next.unsqueeze(-1), ones, {}, &cache).select(1, 0);
    } else {
      ids = at::cat({ids, next.unsqueeze(-1)}, 1);
      mask = at::cat({mask, ones}, 1);
      last_hidden = model.Forward(ids, mask).select(1, ids.size(1) - 1);
    }
  }
  return results;
}

}  // namespace plumb::model
