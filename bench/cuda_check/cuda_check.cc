// Checks the model core's CUDA path against its CPU path on the same weights and prints one JSON
// line per check (and a timing of sampling on the GPU). Exit status 1 if a check fails.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "common/model/logprobs.h"
#include "common/model/sampler.h"
#include "common/model/transformer.h"

namespace {

using plumb::model::ModelConfig;
using plumb::model::Transformer;

int failures = 0;

void Report(const char* check, double value, double limit) {
  const bool ok = value <= limit;
  failures += ok ? 0 : 1;
  std::printf("{\"check\": \"%s\", \"value\": %.3g, \"limit\": %.3g, \"ok\": %s}\n", check, value,
              limit, ok ? "true" : "false");
  std::fflush(stdout);
}

ModelConfig Config(int64_t vocab, int64_t hidden, int64_t layers, int64_t heads, int64_t kv) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = hidden * 11 / 4;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv;
  c.max_position_embeddings = 256;
  return c;
}

}  // namespace

int main() {
  if (!torch::cuda::is_available()) {
    std::printf("{\"check\": \"cuda_available\", \"ok\": false}\n");
    return 1;
  }
  const torch::Device cuda(torch::kCUDA);
  torch::manual_seed(0);
  Transformer cpu_model(Config(97, 64, 2, 4, 2));
  cpu_model->eval();
  torch::manual_seed(0);
  Transformer gpu_model(Config(97, 64, 2, 4, 2));
  gpu_model->to(cuda);
  gpu_model->eval();
  torch::NoGradGuard no_grad;

  // Forward on a right-padded batch.
  const at::Tensor ids = torch::randint(97, {3, 11});
  at::Tensor mask = torch::ones({3, 11}, torch::kLong);
  mask[1].narrow(0, 6, 5).zero_();
  const at::Tensor cpu_logits = cpu_model->Logits(cpu_model->Forward(ids, mask));
  const at::Tensor gpu_logits =
      gpu_model->Logits(gpu_model->Forward(ids.to(cuda), mask.to(cuda))).to(torch::kCPU);
  const at::Tensor real = mask.to(torch::kBool).unsqueeze(-1).expand_as(cpu_logits);
  Report("fp32_logits_max_abs_diff_cuda_vs_cpu",
         (cpu_logits - gpu_logits).abs().masked_select(real).max().item<double>(), 1e-3);

  // Teacher-forced log-probs.
  const std::vector<std::vector<int64_t>> prompts = {{1, 2, 3}, {4, 5, 6, 7, 8}, {9}};
  const std::vector<std::vector<int64_t>> responses = {{10, 11}, {12}, {13, 14, 15, 16}};
  auto cpu_scores = plumb::model::ScoreResponses(*cpu_model, prompts, responses);
  auto gpu_scores = plumb::model::ScoreResponses(*gpu_model, prompts, responses);
  Report("logprobs_max_abs_diff_cuda_vs_cpu",
         (cpu_scores->logprobs - gpu_scores->logprobs.to(torch::kCPU)).abs().max().item<double>(),
         1e-3);

  // Cached sampling equals recomputing the sequence, on the GPU (greedy and seeded).
  for (double temperature : {0.0, 1.0}) {
    plumb::model::SamplingOptions options;
    options.temperature = temperature;
    options.max_new_tokens = 16;
    options.num_samples = 2;
    options.seed = 3;
    auto cached = plumb::model::Sample(*gpu_model, prompts, options);
    options.use_kv_cache = false;
    auto recomputed = plumb::model::Sample(*gpu_model, prompts, options);
    int differing = 0;
    for (size_t i = 0; i < cached->size(); ++i) {
      differing += (*cached)[i].tokens != (*recomputed)[i].tokens;
    }
    Report(temperature == 0 ? "gpu_greedy_rows_differing_cache_vs_recompute"
                            : "gpu_seeded_rows_differing_cache_vs_recompute",
           differing, 0);
    options.use_kv_cache = true;
    auto on_cpu = plumb::model::Sample(*cpu_model, prompts, options);
    differing = 0;
    for (size_t i = 0; i < cached->size(); ++i) {
      differing += (*cached)[i].tokens != (*on_cpu)[i].tokens;
    }
    Report(
        temperature == 0 ? "greedy_rows_differing_gpu_vs_cpu" : "seeded_rows_differing_gpu_vs_cpu",
        differing, 1);  // float differences may flip a near-tie
  }

  // Gradients with and without checkpointing agree on the GPU, and match the CPU's.
  {
    at::AutoGradMode grad(true);
    std::vector<at::Tensor> grads[3];
    for (int run = 0; run < 3; ++run) {
      torch::manual_seed(0);
      Transformer m(Config(97, 64, 2, 4, 2));
      if (run > 0) m->to(cuda);
      m->train();
      m->set_gradient_checkpointing(run == 2);
      const at::Tensor device_ids = run > 0 ? ids.to(cuda) : ids;
      const at::Tensor device_mask = run > 0 ? mask.to(cuda) : mask;
      m->Logits(m->Forward(device_ids, device_mask)).pow(2).mean().backward();
      for (const auto& p : m->parameters()) {
        if (p.grad().defined()) grads[run].push_back(p.grad().to(torch::kCPU));
      }
    }
    double cpu_gpu = 0, checkpointing = 0;
    for (size_t i = 0; i < grads[0].size(); ++i) {
      cpu_gpu = std::max(cpu_gpu, (grads[0][i] - grads[1][i]).abs().max().item<double>());
      checkpointing =
          std::max(checkpointing, (grads[1][i] - grads[2][i]).abs().max().item<double>());
    }
    Report("grad_max_abs_diff_gpu_vs_cpu", cpu_gpu, 1e-4);
    Report("grad_max_abs_diff_gpu_checkpointing", checkpointing, 1e-5);
  }

  // bf16 on the GPU.
  gpu_model->to(torch::kBFloat16);
  const at::Tensor bf16_logits =
      gpu_model->Logits(gpu_model->Forward(ids.to(cuda), mask.to(cuda))).to(torch::kFloat).cpu();
  Report("bf16_logits_max_abs_diff_vs_fp32_cpu",
         (cpu_logits - bf16_logits).abs().masked_select(real).max().item<double>(), 0.1);

  // Throughput of sampling on the GPU (25M-parameter shape, batch 32, 64 new tokens).
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    torch::manual_seed(0);
    Transformer big(Config(8192, 512, 6, 8, 4));
    big->to(cuda, dtype);
    big->eval();
    std::vector<std::vector<int64_t>> batch(32);
    for (int b = 0; b < 32; ++b) {
      for (int t = 0; t < 16; ++t) batch[b].push_back((b * 131 + t * 17) % 8192);
    }
    plumb::model::SamplingOptions options;
    options.max_new_tokens = 64;
    options.seed = 1;
    plumb::model::Sample(*big, batch, options).value();
    torch::cuda::synchronize();
    const auto start = std::chrono::steady_clock::now();
    plumb::model::Sample(*big, batch, options).value();
    torch::cuda::synchronize();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("{\"measure\": \"gpu_sample_25M_batch32_%s\", \"tokens_per_s\": %.0f}\n",
                dtype == torch::kFloat ? "fp32" : "bf16", 32 * 64 / seconds);
  }
  std::printf("{\"failures\": %d}\n", failures);
  return failures == 0 ? 0 : 1;
}
