#include "common/tensor/tensor_codec.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace plumb::tensor {
namespace {

using ::testing::HasSubstr;

// Feeds every chunk to a fresh assembler and returns the one tensor it produces.
absl::StatusOr<NamedTensor> RoundTrip(const std::vector<v1::TensorChunk>& chunks) {
  TensorAssembler assembler;
  std::optional<NamedTensor> result;
  for (const v1::TensorChunk& chunk : chunks) {
    absl::StatusOr<std::optional<NamedTensor>> added = assembler.Add(ViewOf(chunk));
    if (!added.ok()) return added.status();
    if (added->has_value()) result = std::move(*added);
  }
  if (absl::Status status = assembler.Finish(); !status.ok()) return status;
  if (!result.has_value()) return absl::InternalError("no tensor produced");
  return *std::move(result);
}

bool BitEqual(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() &&
         std::memcmp(a.data_ptr(), b.data_ptr(), a.numel() * a.element_size()) == 0;
}

std::vector<v1::TensorChunk> Chunks(const at::Tensor& t, size_t chunk_bytes,
                                    std::string name = "w") {
  absl::StatusOr<std::vector<v1::TensorChunk>> chunks = EncodeTensorToChunks(name, t, chunk_bytes);
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  return *chunks;
}

class TensorCodecDTypeTest : public ::testing::TestWithParam<c10::ScalarType> {};

TEST_P(TensorCodecDTypeTest, RoundTripIsBitExactAcrossChunkBoundaries) {
  at::manual_seed(7);
  const at::Tensor source = (at::randn({37, 53}) * 1000).to(GetParam());
  // 100 bytes does not divide the tensor's size: the last chunk is short.
  std::vector<v1::TensorChunk> chunks = Chunks(source, 100);
  const size_t total = source.numel() * source.element_size();
  EXPECT_EQ(chunks.size(), (total + 99) / 100);
  absl::StatusOr<NamedTensor> back = RoundTrip(chunks);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name, "w");
  EXPECT_TRUE(BitEqual(back->tensor, source));
}

INSTANTIATE_TEST_SUITE_P(AllWireDTypes, TensorCodecDTypeTest,
                         ::testing::Values(at::kFloat, at::kBFloat16, at::kHalf, at::kLong,
                                           at::kInt));

TEST(TensorCodecTest, NonContiguousScalarAndEmptyTensorsRoundTrip) {
  const at::Tensor transposed = at::arange(12, at::kFloat).reshape({3, 4}).t();
  absl::StatusOr<NamedTensor> back = RoundTrip(Chunks(transposed, 8));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(at::equal(back->tensor, transposed));

  const at::Tensor scalar = at::scalar_tensor(3.5, at::kFloat);
  back = RoundTrip(Chunks(scalar, 1024));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tensor.dim(), 0);
  EXPECT_EQ(back->tensor.item<float>(), 3.5f);

  const at::Tensor empty = at::empty({0, 5}, at::kLong);
  std::vector<v1::TensorChunk> chunks = Chunks(empty, 1024);
  ASSERT_EQ(chunks.size(), 1u);
  back = RoundTrip(chunks);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tensor.sizes(), empty.sizes());
}

TEST(TensorCodecTest, SeveralTensorsFollowOneAnotherInOneStream) {
  std::vector<v1::TensorChunk> stream = Chunks(at::ones({10}), 16, "a");
  for (auto& c : Chunks(at::zeros({3}, at::kInt), 4, "b")) stream.push_back(c);
  TensorAssembler assembler;
  std::vector<std::string> names;
  for (const auto& chunk : stream) {
    auto added = assembler.Add(ViewOf(chunk));
    ASSERT_TRUE(added.ok()) << added.status();
    if (added->has_value()) names.push_back((*added)->name);
  }
  EXPECT_THAT(names, ::testing::ElementsAre("a", "b"));
  EXPECT_TRUE(assembler.Finish().ok());
}

TEST(TensorCodecTest, CorruptedChunkIsDataLoss) {
  std::vector<v1::TensorChunk> chunks = Chunks(at::randn({1000}), 512);
  (*chunks[3].mutable_data())[17] ^= 0x01;
  absl::StatusOr<NamedTensor> back = RoundTrip(chunks);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(back.status().message()),
              HasSubstr("tensor 'w': checksum mismatch in the chunk at byte 1536 (512 bytes"));
}

TEST(TensorCodecTest, MalformedStreamsAreInvalidArgumentWithAReason) {
  const std::vector<v1::TensorChunk> good = Chunks(at::randn({100}), 128);
  struct Case {
    std::string name;
    std::function<void(std::vector<v1::TensorChunk>&)> mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"unknown dtype", [](auto& c) { c[0].set_dtype(static_cast<v1::DType>(42)); },
       "tensor 'w': unknown dtype 42"},
      {"negative dim", [](auto& c) { c[0].set_shape(0, -100); },
       "tensor 'w': shape [-100] has a negative dimension"},
      {"size disagrees with shape", [](auto& c) { c[0].set_total_bytes(399); },
       "tensor 'w': total_bytes 399 does not match shape [100] of DTYPE_FLOAT32 (400 bytes)"},
      {"skipped chunk", [](auto& c) { c.erase(c.begin() + 1); },
       "chunk at byte 256 arrived when byte 128 was expected"},
      {"first chunk not at zero", [](auto& c) { c.erase(c.begin()); },
       "first chunk starts at byte 128"},
      {"metadata changes", [](auto& c) { c[2].set_shape(0, 101); },
       "chunks of one tensor must agree"},
      {"chunk past the end", [](auto& c) { c[3].mutable_data()->append(64, 'x'); },
       "runs past the end of the tensor (400 bytes)"},
      {"truncated stream", [](auto& c) { c.pop_back(); }, "stream ended after 384 of 400 bytes"},
  };
  for (const Case& test : cases) {
    std::vector<v1::TensorChunk> chunks = good;
    test.mutate(chunks);
    absl::StatusOr<NamedTensor> back = RoundTrip(chunks);
    EXPECT_EQ(back.status().code(), absl::StatusCode::kInvalidArgument) << test.name;
    EXPECT_THAT(std::string(back.status().message()), HasSubstr(test.message)) << test.name;
  }
}

TEST(TensorCodecTest, OversizedHeaderIsRefusedBeforeAllocating) {
  v1::TensorChunk chunk;
  chunk.set_name("huge");
  chunk.set_dtype(v1::DTYPE_FLOAT32);
  chunk.add_shape(int64_t{1} << 40);
  chunk.set_total_bytes(uint64_t{4} << 40);
  TensorAssembler assembler(AssemblerOptions{.max_tensor_bytes = 1 << 20});
  auto added = assembler.Add(ViewOf(chunk));
  EXPECT_EQ(added.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(added.status().message()),
              HasSubstr("4398046511104 bytes exceeds the limit of 1048576 bytes"));
}

TEST(TensorCodecTest, AssemblerRecoversAfterAnError) {
  TensorAssembler assembler;
  std::vector<v1::TensorChunk> bad = Chunks(at::ones({64}), 64);
  bad[1].set_offset(5);
  ASSERT_TRUE(assembler.Add(ViewOf(bad[0])).ok());
  EXPECT_FALSE(assembler.Add(ViewOf(bad[1])).ok());
  for (const auto& chunk : Chunks(at::ones({4}), 64)) {
    auto added = assembler.Add(ViewOf(chunk));
    ASSERT_TRUE(added.ok()) << added.status();
    ASSERT_TRUE(added->has_value());
  }
}

TEST(TensorCodecTest, WritesIntoTheDestinationTheReceiverProvides) {
  at::Tensor staging = at::zeros({64}, at::kFloat);
  TensorAssembler assembler(
      AssemblerOptions{.destination = [&](const std::string& name, c10::ScalarType dtype,
                                          at::IntArrayRef shape) -> absl::StatusOr<at::Tensor> {
        if (name != "w") return absl::NotFoundError("no parameter " + name);
        return staging;
      }});
  const at::Tensor source = at::randn({64});
  std::optional<NamedTensor> done;
  for (const auto& chunk : Chunks(source, 100)) {
    auto added = assembler.Add(ViewOf(chunk));
    ASSERT_TRUE(added.ok()) << added.status();
    if (added->has_value()) done = std::move(*added);
  }
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->tensor.data_ptr(), staging.data_ptr());
  EXPECT_TRUE(at::equal(staging, source));

  EXPECT_EQ(assembler.Add(ViewOf(Chunks(source, 100, "x")[0])).status().code(),
            absl::StatusCode::kNotFound);
  auto wrong_shape = assembler.Add(ViewOf(Chunks(at::randn({65}), 100)[0]));
  EXPECT_EQ(wrong_shape.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_shape.status().message()),
              HasSubstr("the receiver's destination tensor does not match DTYPE_FLOAT32 [65]"));
}

TEST(TensorCodecTest, UnsupportedDTypeIsRefusedByTheEncoder) {
  absl::Status status =
      EncodeTensor("d", at::ones({2}, at::kDouble), [](const v1::TensorChunk&) { return true; });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("d: dtype Double cannot be sent; supported: float32"));
}

TEST(TensorCodecTest, SinkThatStopsCancelsTheEncoding) {
  int calls = 0;
  absl::Status status = EncodeTensor(
      "w", at::ones({100}), [&](const v1::TensorChunk&) { return ++calls < 2; }, 40);
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 2);
}

TEST(TensorCodecTest, SingleMessageProtoRoundTripAndValidation) {
  const at::Tensor source = at::randn({4, 3}).to(at::kBFloat16);
  absl::StatusOr<v1::Tensor> proto = ToProto(source);
  ASSERT_TRUE(proto.ok());
  absl::StatusOr<at::Tensor> back = FromProto(*proto);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(BitEqual(*back, source));
  proto->mutable_data()->pop_back();
  EXPECT_THAT(std::string(FromProto(*proto).status().message()),
              HasSubstr("needs 24 bytes but carries 23"));
}

}  // namespace
}  // namespace plumb::tensor
