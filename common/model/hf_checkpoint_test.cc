// Plumb's model against an independent PyTorch implementation of Hugging Face's Llama semantics
// (testdata/hf_llama_reference.py, run with Debian's /usr/bin/python3 and its torch), through a
// checkpoint folder Plumb saves: same logits to 1e-4 in float32 for several configurations.
#include "common/model/hf_checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "common/checkpoint/safetensors_writer.h"

namespace plumb::model {
namespace {

using ::testing::HasSubstr;

struct Case {
  std::string name;
  int64_t kv_heads;
  bool tied;
  std::vector<int64_t> lengths;  // real tokens per row; rows are right-padded to the longest
};

std::filesystem::path FreshDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

ModelConfig ConfigFor(const Case& c) {
  ModelConfig config;
  config.vocab_size = 97;
  config.hidden_size = 48;
  config.intermediate_size = 80;
  config.num_hidden_layers = 3;
  config.num_attention_heads = 6;
  config.num_key_value_heads = c.kv_heads;
  config.max_position_embeddings = 64;
  config.rms_norm_eps = 1e-6;
  config.rope_theta = 500000.0;
  config.tie_word_embeddings = c.tied;
  return config;
}

class HfReferenceTest : public ::testing::TestWithParam<Case> {};

TEST_P(HfReferenceTest, LogitsMatchAnIndependentPytorchImplementation) {
  const Case& c = GetParam();
  torch::manual_seed(17);
  Transformer model(ConfigFor(c));
  model->eval();
  const std::filesystem::path dir = FreshDir("hf_ref_" + c.name);
  ASSERT_TRUE(SaveHfModel(*model, dir).ok());

  const int64_t batch = c.lengths.size();
  const int64_t longest = *std::max_element(c.lengths.begin(), c.lengths.end());
  at::Tensor ids = torch::randint(97, {batch, longest});
  at::Tensor mask = torch::zeros({batch, longest}, torch::kLong);
  for (int64_t b = 0; b < batch; ++b) mask[b].narrow(0, 0, c.lengths[b]).fill_(1);
  ids = ids * mask;
  {
    std::ofstream out(dir / "inputs.json");
    auto row_json = [](const at::Tensor& t) {
      std::string s = "[";
      for (int64_t b = 0; b < t.size(0); ++b) {
        s += b ? ", [" : "[";
        for (int64_t i = 0; i < t.size(1); ++i) {
          s += (i ? ", " : "") + std::to_string(t[b][i].item<int64_t>());
        }
        s += "]";
      }
      return s + "]";
    };
    out << "{\"input_ids\": " << row_json(ids) << ", \"attention_mask\": " << row_json(mask) << "}";
  }
  const std::string command = "/usr/bin/python3 common/model/testdata/hf_llama_reference.py '" +
                              dir.string() + "' '" + (dir / "inputs.json").string() + "' '" +
                              (dir / "logits.bin").string() + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  ASSERT_EQ(pclose(pipe), 0) << "the PyTorch reference failed (run scripts/setup.sh for "
                                "python3-torch):\n"
                             << output;
  std::ifstream in(dir / "logits.bin", std::ios::binary);
  std::vector<float> reference(batch * longest * 97);
  in.read(reinterpret_cast<char*>(reference.data()), reference.size() * sizeof(float));
  ASSERT_TRUE(in.good());
  const at::Tensor expected = torch::from_blob(reference.data(), {batch, longest, 97}).clone();

  torch::NoGradGuard no_grad;
  const at::Tensor logits = model->Logits(model->Forward(ids, mask));
  const at::Tensor real = mask.to(torch::kBool).unsqueeze(-1).expand_as(logits);
  const double diff = (logits - expected).abs().masked_select(real).max().item<double>();
  EXPECT_LE(diff, 1e-4) << c.name;
  RecordProperty("max_abs_diff", std::to_string(diff));

  // And Plumb reads back exactly what it wrote.
  absl::StatusOr<Transformer> loaded = LoadHfModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(at::equal((*loaded)->Logits((*loaded)->Forward(ids, mask)), logits));
}

INSTANTIATE_TEST_SUITE_P(Configs, HfReferenceTest,
                         ::testing::Values(Case{"mha_untied", 6, false, {7, 7}},
                                           Case{"gqa_untied_padded", 2, false, {11, 5, 8}},
                                           Case{"gqa_tied_odd", 3, true, {13}},
                                           Case{"mqa_tied_padded", 1, true, {9, 1, 4}}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(HfCheckpointTest, MismatchedCheckpointIsRefusedNamingTheTensorAndNothingChanges) {
  ModelConfig config = ConfigFor({"x", 2, false, {}});
  torch::manual_seed(1);
  Transformer model(config);
  std::map<std::string, at::Tensor> tensors = ExportHfTensors(*model);
  tensors["model.layers.1.self_attn.k_proj.weight"] = torch::zeros({8, 48});
  tensors.erase("model.norm.weight");
  torch::manual_seed(2);
  Transformer other(config);
  const at::Tensor before = other->layers()[0].qkv.clone();
  absl::Status status = ImportHfTensors(*other, tensors, "/models/x");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("tensor 'model.layers.1.self_attn.k_proj.weight' has shape [8, 48]"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("'model.norm.weight' is missing"));
  EXPECT_TRUE(at::equal(other->layers()[0].qkv, before));  // all-or-nothing: nothing copied
}

TEST(HfCheckpointTest, ShardedSaveLoadsBackAndBf16PlacementWorks) {
  torch::manual_seed(3);
  Transformer model(ConfigFor({"s", 2, false, {}}));
  const std::filesystem::path dir = FreshDir("hf_sharded");
  ASSERT_TRUE(SaveHfModel(*model, dir, /*max_shard_bytes=*/40'000).ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  auto loaded = LoadHfModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const at::Tensor ids = torch::randint(97, {1, 6});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(at::equal((*loaded)->Logits((*loaded)->Forward(ids, torch::ones_like(ids))),
                        model->Logits(model->Forward(ids, torch::ones_like(ids)))));
  auto placement = ParsePlacement("bf16", "cpu");
  ASSERT_TRUE(placement.ok());
  auto bf16 = LoadHfModel(dir, *placement);
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_EQ((*bf16)->embed_tokens().scalar_type(), torch::kBFloat16);
  EXPECT_EQ(ParsePlacement("fp8", "cpu").status().message(),
            "dtype 'fp8' is not supported; expected float32 or bfloat16");
}

}  // namespace
}  // namespace plumb::model
