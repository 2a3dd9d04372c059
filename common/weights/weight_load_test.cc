// WeightLoad in domain types only: this test links no protobuf, as no core may. Streams are
// built by hand (manifest, checksummed chunks, commit) and routed by the manifest's model name.
#include "common/weights/weight_load.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "common/model/hf_checkpoint.h"
#include "common/tensor/checksum.h"

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

class WeightLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("weight_load_test_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    torch::manual_seed(1);
    model::Transformer base(Config());
    ASSERT_TRUE(model::SaveHfModel(*base, dir_).ok());
    torch::manual_seed(2);
    other_ = model::Transformer(Config());
    first_ = *VersionedModel::Load(dir_.string(), {});
    second_ = *VersionedModel::Load(dir_.string(), {});
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Picks one of two models by name, as the scorer picks an objective's.
  ModelResolver Resolver() {
    return [this](const std::string& name) -> absl::StatusOr<VersionedModel*> {
      if (name == "first") return first_.get();
      if (name == "second") return second_.get();
      return absl::InvalidArgumentError("unknown model '" + name + "'");
    };
  }

  fs::path dir_;
  model::Transformer other_{nullptr};
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
