#include "common/weights/versioned_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "common/tensor/checksum.h"
#include "common/weights/weight_load.h"
#include "common/weights/weight_stream_proto.h"
#include "common/weights/weight_stream_sender.h"

namespace plumb::weights {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

model::ModelConfig Config() {
  model::ModelConfig config;
  config.vocab_size = 40;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 32;
  return config;
}

class VersionedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / "versioned_model_test";
    fs::remove_all(dir_);
    torch::manual_seed(1);
    model::Transformer base(Config());
    ASSERT_TRUE(model::SaveHfModel(*base, dir_).ok());
    torch::manual_seed(2);
    other_ = model::Transformer(Config());
  }
  void TearDown() override { fs::remove_all(dir_); }

  static at::Tensor Logits(model::TransformerImpl& m) {
    torch::NoGradGuard no_grad;
    const at::Tensor ids = torch::arange(6).view({1, 6});
    return m.Logits(m.Forward(ids, torch::ones({1, 6})));
  }

  fs::path dir_;
  model::Transformer other_{nullptr};
};

TEST_F(VersionedModelTest, ApplySwapsWhileHeldSnapshotsKeepTheirVersion) {
  absl::StatusOr<std::unique_ptr<VersionedModel>> model = VersionedModel::Load(dir_.string(), {});
  ASSERT_TRUE(model.ok()) << model.status();
  std::shared_ptr<ModelSnapshot> before = (*model)->Current();
  EXPECT_EQ(before->version, 0u);
  const at::Tensor base_logits = Logits(*before->model);

  ReceivedWeights weights;
  weights.version = 7;
  weights.source = "test";
  weights.tensors = model::ExportHfTensors(*other_);
  absl::StatusOr<uint64_t> previous = (*model)->Apply(weights);
  ASSERT_TRUE(previous.ok()) << previous.status();
  EXPECT_EQ(*previous, 0u);
  std::shared_ptr<ModelSnapshot> after = (*model)->Current();
  EXPECT_EQ(after->version, 7u);
  EXPECT_EQ((*model)->Target().version, 7u);
  EXPECT_TRUE(at::allclose(Logits(*after->model), Logits(*other_), 1e-5, 1e-6));
  // The reader that took the old snapshot still computes with the old weights.
  EXPECT_TRUE(at::equal(Logits(*before->model), base_logits));
}

TEST_F(VersionedModelTest, PartialWeightsKeepTheOtherTensorsAndBadOnesChangeNothing) {
  std::unique_ptr<VersionedModel> model = *VersionedModel::Load(dir_.string(), {});
  const at::Tensor embed = model->Current()->model->embed_tokens().clone();
  ReceivedWeights weights;
  weights.version = 1;
  weights.partial = true;
  weights.tensors["model.norm.weight"] = torch::full({32}, 2.0);
  ASSERT_TRUE(model->Apply(weights).ok());
  EXPECT_TRUE(at::equal(model->Current()->model->final_norm(), torch::full({32}, 2.0)));
  EXPECT_TRUE(at::equal(model->Current()->model->embed_tokens(), embed));

  weights.version = 2;
  weights.tensors["model.norm.weight"] = torch::zeros({31});
  absl::StatusOr<uint64_t> bad = model->Apply(weights);
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("model.norm.weight"));
  EXPECT_EQ(model->Current()->version, 1u);
  EXPECT_TRUE(at::equal(model->Current()->model->final_norm(), torch::full({32}, 2.0)));
}

TEST_F(VersionedModelTest, StagesIntoTheReplacedModelOnlyWhenNoReaderHoldsIt) {
  std::unique_ptr<VersionedModel> model = *VersionedModel::Load(dir_.string(), {});
  const model::TransformerImpl* base = model->Current()->model.get();
  ReceivedWeights weights;
  weights.tensors = model::ExportHfTensors(*other_);
  weights.version = 1;
  ASSERT_TRUE(model->Apply(weights).ok());
  const model::TransformerImpl* first = model->Current()->model.get();
  EXPECT_NE(first, base);
  weights.version = 2;
  ASSERT_TRUE(model->Apply(weights).ok());
  EXPECT_EQ(model->Current()->model.get(), base);  // the base snapshot was free: reused
  // A reader holding version 2 keeps its weights through two more swaps.
  std::shared_ptr<ModelSnapshot> held = model->Current();
  const at::Tensor held_logits = Logits(*held->model);
  weights.version = 3;
  ASSERT_TRUE(model->Apply(weights).ok());
  weights.version = 4;
  weights.tensors["model.norm.weight"] = torch::full({32}, 3.0);
  ASSERT_TRUE(model->Apply(weights).ok());
  EXPECT_NE(model->Current()->model.get(), held->model.get());
  EXPECT_TRUE(at::equal(Logits(*held->model), held_logits));
  EXPECT_TRUE(at::equal(model->Current()->model->final_norm(), torch::full({32}, 3.0)));
}

// A full stream in the model's dtype is written straight into the staging model; a stream that
// breaks half-way changes nothing visible, and the next stream still loads.
TEST_F(VersionedModelTest, StreamsWriteInPlaceAndABrokenStreamChangesNothing) {
  std::unique_ptr<VersionedModel> model = *VersionedModel::Load(dir_.string(), {});
  const at::Tensor base_logits = Logits(*model->Current()->model);
  auto stream = [&](uint64_t version, c10::ScalarType dtype) {
    std::vector<v1::WeightChunk> messages;
    SendOptions options;
    options.version = version;
    options.architecture = "llama";
    options.chunk_bytes = 4096;
    std::map<std::string, at::Tensor> tensors;
    for (const auto& [name, t] : model::ExportHfTensors(*other_)) tensors[name] = t.to(dtype);
    EXPECT_TRUE(SendWeightStream(tensors, options, [&](const v1::WeightChunk& c) {
                  messages.push_back(c);
                  return true;
                }).ok());
    return messages;
  };
  auto receive = [&](const std::vector<v1::WeightChunk>& messages) {
    size_t i = 0;
    return ReceiveWeights(
        [&](v1::WeightChunk* chunk) {
          if (i == messages.size()) return false;
          *chunk = messages[i++];
          return true;
        },
        *model);
  };
  // Break a chunk in the middle of the stream: DATA_LOSS, version and logits unchanged.
  std::vector<v1::WeightChunk> broken = stream(1, torch::kFloat);
  std::string& data = *broken[broken.size() / 2].mutable_tensor()->mutable_data();
  data[0] = static_cast<char>(data[0] ^ 1);
  absl::StatusOr<v1::LoadWeightsResponse> failed = receive(broken);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(model->Current()->version, 0u);
  EXPECT_TRUE(at::equal(Logits(*model->Current()->model), base_logits));
  EXPECT_FALSE(model->loading());
  // A whole float32 stream lands in place; a bfloat16 one is converted (not in place).
  for (c10::ScalarType dtype : {torch::kFloat, torch::kBFloat16}) {
    const uint64_t version = dtype == torch::kFloat ? 2 : 3;
    absl::StatusOr<v1::LoadWeightsResponse> loaded = receive(stream(version, dtype));
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(model->Current()->version, version);
    const double tolerance = dtype == torch::kFloat ? 1e-5 : 5e-2;
    EXPECT_TRUE(
        at::allclose(Logits(*model->Current()->model), Logits(*other_), tolerance, tolerance));
  }
}

// NaN weights used to load (status OK) and the generator then sampled token id -1.
TEST_F(VersionedModelTest, NonFiniteWeightsAreRefusedWhileStagedAndChangeNothing) {
  std::unique_ptr<VersionedModel> model = *VersionedModel::Load(dir_.string(), {});
  const at::Tensor base_logits = Logits(*model->Current()->model);
  auto receive = [&](float poison, uint64_t version) {
    std::map<std::string, at::Tensor> tensors;
    for (const auto& [name, t] : model::ExportHfTensors(*other_)) tensors[name] = t.clone();
    tensors.begin()->second.view(-1)[3] = poison;
    std::vector<v1::WeightChunk> messages;
    SendOptions options;
    options.version = version;
    options.architecture = "llama";
    EXPECT_TRUE(SendWeightStream(tensors, options, [&](const v1::WeightChunk& c) {
                  messages.push_back(c);
                  return true;
                }).ok());
    size_t i = 0;
    return ReceiveWeights(
        [&](v1::WeightChunk* chunk) {
          if (i == messages.size()) return false;
          *chunk = messages[i++];
          return true;
        },
        *model);
  };
  for (float poison :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    absl::StatusOr<v1::LoadWeightsResponse> failed = receive(poison, 1);
    EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(failed.status().message()), HasSubstr("non-finite values"));
    EXPECT_EQ(model->Current()->version, 0u);
    EXPECT_TRUE(at::equal(Logits(*model->Current()->model), base_logits));
    EXPECT_FALSE(model->loading());
  }
  absl::StatusOr<v1::LoadWeightsResponse> loaded = receive(0.25f, 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(model->Current()->version, 1u);
}

// A model folder whose config asks for more memory than there is (a 2^44-token vocabulary) is
// RESOURCE_EXHAUSTED naming the folder; it once read INTERNAL.
TEST_F(VersionedModelTest, AModelTooLargeForMemoryIsResourceExhaustedNamingTheFolder) {
  std::string config;
  {
    std::ifstream in(dir_ / "config.json");
    config.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string key = "\"vocab_size\": ";
  const size_t at = config.find(key);
  ASSERT_NE(at, std::string::npos) << config;
  const size_t digits = config.find_first_not_of("0123456789", at + key.size());
  config.replace(at + key.size(), digits - at - key.size(), "17592186044416");
  std::ofstream(dir_ / "config.json") << config;
  absl::StatusOr<std::unique_ptr<VersionedModel>> model = VersionedModel::Load(dir_.string(), {});
  EXPECT_EQ(model.status().code(), absl::StatusCode::kResourceExhausted) << model.status();
  EXPECT_THAT(std::string(model.status().message()), HasSubstr(dir_.string() + ": "));
}

TEST_F(VersionedModelTest, TargetListsHuggingFaceNamesAndShapes) {
  std::unique_ptr<VersionedModel> model = *VersionedModel::Load(dir_.string(), {});
  const WeightTarget target = model->Target();
  EXPECT_EQ(target.architecture, "llama");
  EXPECT_EQ(target.shapes.at("model.embed_tokens.weight"), (std::vector<int64_t>{40, 32}));
  EXPECT_EQ(target.shapes.at("model.layers.1.self_attn.k_proj.weight"),
            (std::vector<int64_t>{16, 32}));
}

// The messages of one stream; chunk views point into `tensors`, which must outlive them.
struct Stream {
  std::map<std::string, at::Tensor> tensors;
  std::vector<WeightMessage> messages;
};

Stream MakeStream(const std::map<std::string, at::Tensor>& source, uint64_t version,
                  const std::string& model_name, size_t chunk_bytes = 4096) {
  Stream stream;
  for (const auto& [name, t] : source) stream.tensors[name] = t.contiguous();
  WeightManifest manifest{.version = version, .model = model_name, .architecture = "llama"};
  manifest.source = "test";
  for (const auto& [name, t] : stream.tensors) {
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    manifest.tensors.push_back({.name = name,
                                .dtype = *tensor::ToDType(t.scalar_type()),
                                .shape = t.sizes().vec(),
                                .total_bytes = bytes});
    manifest.total_bytes += bytes;
  }
  const uint64_t total = manifest.total_bytes;
  stream.messages.push_back({.version = version, .payload = std::move(manifest)});
  for (const auto& [name, t] : stream.tensors) {
    const char* data = static_cast<const char*>(t.data_ptr());
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    for (uint64_t offset = 0; offset < bytes; offset += chunk_bytes) {
      const uint64_t n = std::min<uint64_t>(chunk_bytes, bytes - offset);
      stream.messages.push_back(
          {.version = version,
           .payload = tensor::TensorChunkView{
               .name = name,
               .dtype = *tensor::ToDType(t.scalar_type()),
               .shape = absl::MakeConstSpan(t.sizes().data(), t.sizes().size()),
               .offset = offset,
               .total_bytes = bytes,
               .checksum = tensor::Checksum(data + offset, n),
               .data = absl::string_view(data + offset, n)}});
    }
  }
  stream.messages.push_back(
      {.version = version,
       .payload = WeightCommit{.tensor_count = stream.tensors.size(), .total_bytes = total}});
  return stream;
}

absl::StatusOr<LoadResult> Feed(WeightLoad& load, const Stream& stream) {
  for (const WeightMessage& message : stream.messages) {
    if (absl::Status status = load.Add(message); !status.ok()) return status;
  }
  return load.Finish();
}

// WeightLoad in domain messages (no protobuf: streams built by hand, as any core could), routed
// by the manifest's model name between two models.
class WeightLoadTest : public VersionedModelTest {
 protected:
  void SetUp() override {
    VersionedModelTest::SetUp();
    first_ = *VersionedModel::Load(dir_.string(), {});
    second_ = *VersionedModel::Load(dir_.string(), {});
  }

  // Picks one of two models by name, as the scorer picks an objective's.
  ModelResolver Resolver() {
    return [this](const std::string& name) -> absl::StatusOr<VersionedModel*> {
      if (name == "first") return first_.get();
      if (name == "second") return second_.get();
      return absl::InvalidArgumentError("unknown model '" + name + "'");
    };
  }

  std::unique_ptr<VersionedModel> first_, second_;
};

TEST_F(WeightLoadTest, TheManifestsModelNameSelectsTheModelThatSwaps) {
  const Stream stream = MakeStream(model::ExportHfTensors(*other_), 5, "second");
  WeightLoad load(Resolver());
  absl::StatusOr<LoadResult> loaded = Feed(load, stream);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->version, 5u);
  EXPECT_EQ(loaded->previous_version, 0u);
  EXPECT_EQ(loaded->tensors, stream.tensors.size());
  EXPECT_EQ(second_->Current()->version, 5u);
  EXPECT_EQ(second_->Current()->generation, 1u);
  EXPECT_EQ(second_->Current()->source, "test");
  EXPECT_TRUE(at::equal(second_->Current()->model->embed_tokens(), other_->embed_tokens()));
  EXPECT_EQ(first_->Current()->version, 0u);  // the other model is untouched
  EXPECT_FALSE(second_->loading());
}

TEST_F(WeightLoadTest, AnUnknownNameEndsTheLoadAtTheManifest) {
  WeightLoad load(Resolver());
  const Stream stream = MakeStream(model::ExportHfTensors(*other_), 5, "third");
  const absl::Status status = load.Add(stream.messages[0]);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(), "unknown model 'third'");
  EXPECT_FALSE(load.Add(stream.messages[1]).ok());  // the load is dead
  EXPECT_EQ(first_->Current()->version, 0u);
  EXPECT_EQ(second_->Current()->version, 0u);
}

TEST_F(WeightLoadTest, ASecondLoadOfTheSameModelIsAbortedButAnotherModelLoads) {
  const Stream to_first = MakeStream(model::ExportHfTensors(*other_), 1, "first");
  const Stream to_second = MakeStream(model::ExportHfTensors(*other_), 1, "second");
  WeightLoad running(Resolver());
  ASSERT_TRUE(running.Add(to_first.messages[0]).ok());  // holds "first"
  WeightLoad same(Resolver());
  EXPECT_TRUE(absl::IsAborted(same.Add(to_first.messages[0])));
  WeightLoad other(Resolver());
  EXPECT_TRUE(Feed(other, to_second).ok());
  for (size_t i = 1; i < to_first.messages.size(); ++i) {
    ASSERT_TRUE(running.Add(to_first.messages[i]).ok());
  }
  EXPECT_TRUE(running.Finish().ok());
  EXPECT_EQ(first_->Current()->version, 1u);
}

// A service's only model takes manifests naming "" and refuses any other name.
TEST_F(WeightLoadTest, TheOnlyModelOfAServiceTakesTheEmptyNameOnly) {
  WeightLoad named(*first_);
  const absl::Status status =
      named.Add(MakeStream(model::ExportHfTensors(*other_), 1, "first").messages[0]);
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("manifest names model 'first'"));
  WeightLoad unnamed(*first_);
  EXPECT_TRUE(Feed(unnamed, MakeStream(model::ExportHfTensors(*other_), 1, "")).ok());
  EXPECT_EQ(first_->Current()->version, 1u);
}

// A load abandoned half-way (the stream broke) swaps nothing and frees the model for the next.
TEST_F(WeightLoadTest, AnAbandonedLoadChangesNothingAndReleasesTheModel) {
  const Stream stream = MakeStream(model::ExportHfTensors(*other_), 3, "first");
  const at::Tensor before = first_->Current()->model->embed_tokens().clone();
  {
    WeightLoad load(Resolver());
    for (size_t i = 0; i < stream.messages.size() / 2; ++i) {
      ASSERT_TRUE(load.Add(stream.messages[i]).ok());
    }
    EXPECT_TRUE(first_->loading());
  }
  EXPECT_FALSE(first_->loading());
  EXPECT_EQ(first_->Current()->version, 0u);
  EXPECT_TRUE(at::equal(first_->Current()->model->embed_tokens(), before));
  WeightLoad again(Resolver());
  EXPECT_TRUE(Feed(again, stream).ok());
  EXPECT_EQ(first_->Current()->version, 3u);
}

}  // namespace
}  // namespace plumb::weights
