// Model-core throughput, for comparison with the same model in Debian's PyTorch (Python, eager;
// bench/model_bench_peer.py) on the same inputs in the same run (scripts/bench.sh model):
//   sample    KV-cached sampling (temperature 1), new tokens per second
//   logprobs  teacher-forced per-token log-probs, tokens per second
//   train     forward + cross-entropy + backward + AdamW, milliseconds per step
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
#include "common/model/sampler.h"
#include "common/model/transformer.h"

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

}  // namespace

int main(int argc, char** argv) {
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

        if (dtype == torch::kFloat && wanted("train")) {
          model->train();
          torch::optim::AdamW adam(model->parameters(), torch::optim::AdamWOptions(1e-4));
          const at::Tensor ids =
              (torch::arange(batch * kSeq, torch::kLong).view({batch, kSeq}) * 13) %
              size.config.vocab_size;
          const at::Tensor mask = torch::ones({batch, kSeq}, torch::kLong);
          const double train_s = MedianSeconds(reps, [&] {
            adam.zero_grad();
            const at::Tensor logits = model->Logits(model->Forward(ids, mask));
            const at::Tensor loss = torch::nn::functional::cross_entropy(
                logits.narrow(1, 0, kSeq - 1).reshape({-1, size.config.vocab_size}),
                ids.narrow(1, 1, kSeq - 1).reshape({-1}));
            loss.backward();
            adam.step();
          });
          Emit(size.name, dtype_name, batch, "train", train_s * 1e3, "ms/step", params);
          model->eval();
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
    }
  }
  return 0;
}
