// Model-core throughput, for comparison with the same model in Debian's PyTorch (Python, eager;
// bench/model_bench_peer.py) on the same inputs in the same run (scripts/bench.sh model):
//   sample    KV-cached sampling (temperature 1), new tokens per second
//   logprobs  teacher-forced per-token log-probs, tokens per second
//   train         one SFT optimizer step (common/train's SftUpdate, gradient clipping, AdamW) on
//                 24 examples of 32..128 tokens padded into rows; real tokens per second
//   train_packed  the same step with the examples packed into 128-token rows
//   train_lora    the padded step training only LoRA adapters (rank 8 on q_proj and v_proj)
//                 fp32 trains in float32; bf16 keeps float32 weights and forwards under bf16
//                 autocast (plumb-train's training.bf16_autocast)
//   gemm      a [B*T, H] x [H, 4H] matmul, FLOP/s: the arithmetic ceiling the others are held to
// Prints one JSON object per line.
// Usage: plumb-bench-model [--reps N] [--threads N] [--size 3M|25M] [--dtype fp32|bf16]
//                          [--what sample|logprobs|train|gemm]
#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/model/logprobs.h"
#include "common/model/lora.h"
#include "common/model/mixed_precision.h"
#include "common/model/sampler.h"
#include "common/model/transformer.h"
#include "common/service/malloc_tuning.h"
#include "common/train/offline_updates.h"
#include "common/train/optimizer.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Size {
  const char* name;
  plumb::model::ModelConfig config;
};

std::vector<Size> Sizes() {
  plumb::model::ModelConfig small;
  small.vocab_size = 2048;
  small.hidden_size = 256;
  small.intermediate_size = 704;
  small.num_hidden_layers = 3;
  small.num_attention_heads = 4;
  small.num_key_value_heads = 4;
  small.max_position_embeddings = 256;
  plumb::model::ModelConfig medium;
  medium.vocab_size = 8192;
  medium.hidden_size = 512;
  medium.intermediate_size = 1408;
  medium.num_hidden_layers = 6;
  medium.num_attention_heads = 8;
  medium.num_key_value_heads = 4;
  medium.max_position_embeddings = 256;
  return {{"3M", small}, {"25M", medium}};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename F>
double MedianSeconds(int reps, F&& run) {
  run();  // warm-up
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    const auto start = Clock::now();
    run();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return Median(times);
}

void Emit(const char* size, const char* dtype, int64_t batch, const char* what, double value,
          const char* unit, int64_t params) {
  std::printf(
      "{\"impl\": \"plumb\", \"size\": \"%s\", \"params\": %lld, \"dtype\": \"%s\", \"batch\": "
      "%lld, \"what\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n",
      size, static_cast<long long>(params), dtype, static_cast<long long>(batch), what, value,
      unit);
  std::fflush(stdout);
}

// The SFT examples of one training step: prompt 8..16 tokens, response 24..120 tokens, 24
// examples (~1.9k real tokens). The Python peer builds the same ids.
std::vector<plumb::train::SftItem> TrainExamples(int64_t vocab) {
  std::vector<plumb::train::SftItem> items;
  for (int64_t i = 0; i < 24; ++i) {
    plumb::train::SftItem item;
    const int64_t prompt = 8 + (i * 5) % 9;
    const int64_t response = 24 + (i * 37) % 97;
    for (int64_t t = 0; t < prompt; ++t) item.prompt.push_back((i * 131 + t * 17) % vocab);
    for (int64_t t = 0; t < response; ++t) item.response.push_back((i * 7 + t * 29 + 3) % vocab);
    items.push_back(std::move(item));
  }
  return items;
}

// Real (prompt + response) tokens per second of one SFT optimizer step through the one update
// the trainers use.
double TrainTokensPerSecond(const plumb::model::ModelConfig& config, const std::string& variant,
                            bool bf16, int reps) {
  torch::manual_seed(0);
  plumb::model::Transformer model(config);
  if (variant == "train_lora") {
    plumb::model::LoraOptions lora;  // rank 8, alpha 16, q_proj + v_proj
    if (!plumb::model::ApplyLora(*model, lora).ok()) std::abort();
  }
  model->train();
  plumb::train::OptimizerOptions adam_options;
  adam_options.lr = 1e-4;
  auto adam = plumb::train::MakeAdamW(plumb::model::TrainableParameters(*model), adam_options);
  const std::vector<plumb::train::SftItem> items = TrainExamples(config.vocab_size);
  int64_t tokens = 0;
  for (const auto& item : items) tokens += item.prompt.size() + item.response.size();
  plumb::train::SftOptions sft;
  sft.packing = variant == "train_packed";
  sft.pack_length = 128;
  auto world = plumb::train::World::Single();
  plumb::train::UpdateContext context;
  context.world = world.get();
  context.end = static_cast<int64_t>(items.size());
  context.bf16_autocast = bf16;
  const std::vector<at::Tensor> trainable = plumb::model::TrainableParameters(*model);
  const double seconds = MedianSeconds(reps, [&] {
    adam->zero_grad();
    if (!plumb::train::SftUpdate(*model, items, sft, context).ok()) std::abort();
    torch::nn::utils::clip_grad_norm_(trainable, 1.0);
    adam->step();
  });
  return static_cast<double>(tokens) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  plumb::service::TuneMallocForLargeBuffers();  // reuse freed activations (malloc_tuning.h)
  int reps = 5;
  int threads = 2;
  std::string only_size, only_dtype, only_what;
  CLI::App app(
      "The model core's forward, training-step and sampling speed, one JSON line per result "
      "(scripts/bench.sh model compares them with bench/model_bench_peer.py).",
      "plumb-bench-model");
  app.add_option("--reps", reps, "Repetitions per measurement (the median is reported)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--threads", threads, "LibTorch threads")->check(CLI::Range(1, 256));
  app.add_option("--size", only_size, "Only this model size (default: every size)");
  app.add_option("--dtype", only_dtype, "Only fp32 or bf16 (default: both)");
  app.add_option("--what", only_what, "Only this measurement (default: every one)");
  CLI11_PARSE(app, argc, argv);
  at::set_num_threads(threads);
  std::printf("{\"impl\": \"plumb\", \"what\": \"config\", \"bf16_gemm\": \"%s\"}\n",
              plumb::model::CpuBf16GemmIsEmulated()
                  ? "emulated (fp32 GEMM on bf16-rounded operands: no native bf16 GEMM on this CPU)"
                  : "LibTorch's bf16 kernels (autocast)");
  constexpr int64_t kPrompt = 16, kNew = 64, kSeq = 128;
  for (const Size& size : Sizes()) {
    if (!only_size.empty() && only_size != size.name) continue;
    for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
      const char* dtype_name = dtype == torch::kFloat ? "fp32" : "bf16";
      if (!only_dtype.empty() && only_dtype != dtype_name) continue;
      torch::manual_seed(0);
      plumb::model::Transformer model(size.config);
      model->to(dtype);
      model->eval();
      const int64_t params = size.config.ParameterCount();
      for (int64_t batch : {8, 32}) {
        // Inputs: deterministic token ids, the same the Python peer builds.
        std::vector<std::vector<int64_t>> prompts(batch);
        for (int64_t b = 0; b < batch; ++b) {
          for (int64_t t = 0; t < kPrompt; ++t) {
            prompts[b].push_back((b * 131 + t * 17) % size.config.vocab_size);
          }
        }
        auto wanted = [&](const char* what) { return only_what.empty() || only_what == what; };
        plumb::model::SamplingOptions options;
        options.max_new_tokens = kNew;
        options.seed = 1;
        if (wanted("sample")) {
          const double sample_s = MedianSeconds(reps, [&] {
            auto out = plumb::model::Sample(*model, prompts, options);
            if (!out.ok()) std::abort();
          });
          Emit(size.name, dtype_name, batch, "sample", batch * kNew / sample_s, "tokens/s", params);
        }

        std::vector<std::vector<int64_t>> responses(batch);
        for (int64_t b = 0; b < batch; ++b) {
          for (int64_t t = 0; t < kSeq - kPrompt; ++t) {
            responses[b].push_back((b * 7 + t * 29) % size.config.vocab_size);
          }
        }
        if (wanted("logprobs")) {
          const double logprob_s = MedianSeconds(reps, [&] {
            torch::NoGradGuard no_grad;
            auto out = plumb::model::ScoreResponses(*model, prompts, responses);
            if (!out.ok()) std::abort();
          });
          Emit(size.name, dtype_name, batch, "logprobs", batch * kSeq / logprob_s, "tokens/s",
               params);
        }

        if (!wanted("gemm")) continue;
        // The GEMM ceiling at this precision and shape.
        const at::Tensor a = torch::randn({batch * kSeq, size.config.hidden_size}).to(dtype);
        const at::Tensor w =
            torch::randn({size.config.hidden_size, 4 * size.config.hidden_size}).to(dtype);
        const double gemm_s = MedianSeconds(reps, [&] { at::matmul(a, w).sum().item<float>(); });
        Emit(size.name, dtype_name, batch, "gemm",
             2.0 * batch * kSeq * size.config.hidden_size * 4 * size.config.hidden_size / gemm_s,
             "flop/s", params);
      }
      for (const char* variant : {"train", "train_packed", "train_lora"}) {
        if (!only_what.empty() && only_what != variant) continue;
        Emit(size.name, dtype_name, 24, variant,
             TrainTokensPerSecond(size.config, variant, dtype == torch::kBFloat16, reps),
             "tokens/s", params);
      }
    }
  }
  return 0;
}
