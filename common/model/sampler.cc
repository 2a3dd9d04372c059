#include "common/model/sampler.h"

#include <torch/torch.h>

#include <cmath>

#include "absl/strings/str_cat.h"

namespace plumb::model {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Picks one token per row from `logits` [B, V] (float32) with uniforms `u` [B].
at::Tensor ChooseTokens(const at::Tensor& scaled, const SamplingOptions& options,
                        const at::Tensor& u) {
  if (options.temperature == 0) return scaled.argmax(-1);
  const int64_t vocab = scaled.size(-1);
  auto [sorted, order] = scaled.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true);
  const double kRemoved = -std::numeric_limits<float>::infinity();
  if (options.top_k > 0 && options.top_k < vocab) {
    sorted.narrow(-1, options.top_k, vocab - options.top_k).fill_(kRemoved);
  }
  at::Tensor probs = sorted.softmax(-1);
  if (options.top_p < 1.0) {
    // Drop a token when the tokens before it already reach top_p (the first always stays).
    const at::Tensor before = probs.cumsum(-1) - probs;
    sorted = sorted.masked_fill(before >= options.top_p, kRemoved);
    probs = sorted.softmax(-1);
  }
  const at::Tensor cdf = probs.cumsum(-1);
  const at::Tensor target = (u.to(cdf.dtype()) * cdf.select(-1, vocab - 1)).unsqueeze(-1);
  const at::Tensor index =
      at::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true).clamp_max(vocab - 1);
  return order.gather(-1, index).squeeze(-1);
}

}  // namespace

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
  if (!(options.temperature >= 0) || !std::isfinite(options.temperature)) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature must be a finite number >= 0, got ", options.temperature));
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
  const at::Tensor stop_ids = torch::tensor(
      std::vector<int64_t>(options.stop_token_ids.begin(), options.stop_token_ids.end()),
      torch::kLong);
  const double temperature = options.temperature > 0 ? options.temperature : 1.0;
  at::Tensor ones = torch::ones({rows, 1}, torch::dtype(torch::kLong).device(device));
  std::vector<double> uniforms(rows);
  std::vector<uint64_t> prompt_keys;
  for (const auto& prompt : prompts) prompt_keys.push_back(PromptKey(prompt));
  for (int64_t step = 0; step < options.max_new_tokens && remaining > 0; ++step) {
    const at::Tensor scaled = model.Logits(last_hidden).to(torch::kFloat) / temperature;
    for (int64_t r = 0; r < rows; ++r) {
      uniforms[r] = SamplingUniform(options.seed, prompt_keys[r / k], r % k, step);
    }
    const at::Tensor u = torch::tensor(uniforms, torch::kDouble).to(device);
    const at::Tensor tokens = ChooseTokens(scaled, options, u);  // [rows]
    const at::Tensor logprobs =
        scaled.log_softmax(-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1);  // [rows]
    const at::Tensor tokens_cpu = tokens.to(torch::kCPU);
    const at::Tensor logprobs_cpu = logprobs.to(torch::kCPU);
    const at::Tensor is_stop =
        stop_ids.numel() > 0 ? at::isin(tokens_cpu, stop_ids) : torch::zeros({rows}, torch::kBool);
    const int64_t* token_data = tokens_cpu.data_ptr<int64_t>();
    const float* logprob_data = logprobs_cpu.data_ptr<float>();
    const bool* stop_data = is_stop.data_ptr<bool>();
    for (int64_t r = 0; r < rows; ++r) {
      if (done[r]) continue;
      results[r].tokens.push_back(token_data[r]);
      results[r].logprobs.push_back(logprob_data[r]);
      if (stop_data[r]) {
        results[r].finish_reason = FinishReason::kStop;
        done[r] = true;
        --remaining;
      }
    }
    if (remaining == 0 || step + 1 == options.max_new_tokens) break;
    if (options.use_kv_cache) {
      last_hidden = model.Forward(tokens.unsqueeze(-1), ones, {}, &cache).select(1, 0);
    } else {
      ids = at::cat({ids, tokens.unsqueeze(-1)}, 1);
      mask = at::cat({mask, ones}, 1);
      last_hidden = model.Forward(ids, mask).select(1, ids.size(1) - 1);
    }
  }
  return results;
}

}  // namespace plumb::model
