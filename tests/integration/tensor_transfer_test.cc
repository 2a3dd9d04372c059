// The tensor codec over a real gRPC stream on loopback: a 100 MB tensor round-trips bit-exactly,
// and corrupted or malformed streams are refused with the right code while the server keeps
// serving.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/rpc/channel_factory.h"
#include "common/rpc/raw_stream.h"
#include "common/rpc/server_runner.h"
#include "common/tensor/tensor_codec.h"
#include "common/tensor/tensor_wire.h"
#include "tests/support/echo_service.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;
using v1::testing::EchoService;

class TensorTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rpc::ServerOptions options;
    options.address = "127.0.0.1:0";
    auto runner = rpc::ServerRunner::Start(options, {rpc::Hosted<EchoService>(&service_)});
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = *std::move(runner);
    client_.target = "127.0.0.1:" + std::to_string(runner_->port());
    client_.default_deadline = absl::Seconds(120);
    stub_ = EchoService::NewStub(*rpc::CreateChannel(client_));
  }

  // Uploads `chunks` and returns the server's answer.
  grpc::Status Upload(const std::vector<v1::TensorChunk>& chunks,
                      v1::testing::UploadTensorResponse* response) {
    auto context = rpc::NewClientContext(client_);
    auto writer = stub_->UploadTensor(context.get(), response);
    for (const auto& chunk : chunks) {
      if (!writer->Write(chunk)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  testing::EchoServiceImpl service_;
  std::unique_ptr<rpc::ServerRunner> runner_;
  rpc::ChannelOptions client_;
  std::unique_ptr<EchoService::Stub> stub_;
};

TEST_F(TensorTransferTest, HundredMegabyteTensorRoundTripsBitExactly) {
  at::manual_seed(11);
  const at::Tensor source = at::randn({25, 1000, 1000});  // 100,000,000 bytes of float32
  auto context = rpc::NewClientContext(client_);
  auto stream = stub_->EchoTensor(context.get());
  size_t sent_chunks = 0;
  absl::Status sent = tensor::EncodeTensor("big", source, [&](const v1::TensorChunk& chunk) {
    ++sent_chunks;
    return stream->Write(chunk);
  });
  ASSERT_TRUE(sent.ok()) << sent;
  stream->WritesDone();
  EXPECT_EQ(sent_chunks, 96u);  // ceil(1e8 / 2^20)

  tensor::TensorAssembler assembler;
  std::optional<tensor::NamedTensor> back;
  v1::TensorChunk chunk;
  while (stream->Read(&chunk)) {
    auto added = assembler.Add(tensor::ViewOf(chunk));
    ASSERT_TRUE(added.ok()) << added.status();
    if (added->has_value()) back = std::move(*added);
  }
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->name, "big");
  EXPECT_EQ(back->tensor.sizes(), source.sizes());
  EXPECT_EQ(std::memcmp(back->tensor.data_ptr(), source.data_ptr(), 100'000'000), 0);
}

TEST_F(TensorTransferTest, ZeroCopyChunksAreOrdinaryTensorChunksToTheServer) {
  at::manual_seed(5);
  for (const at::Tensor& source :
       {at::randn({700, 1000}), at::randn({33}).to(at::kBFloat16), at::empty({0, 4}, at::kLong)}) {
    auto context = rpc::NewClientContext(client_);
    grpc::ByteBuffer reply;
    auto writer = rpc::StartRawClientStream(*rpc::CreateChannel(client_),
                                            "/plumb.v1.testing.EchoService/UploadTensor",
                                            context.get(), &reply);
    size_t chunks = 0;
    absl::Status sent = tensor::EncodeTensorToWire("w", source, [&](const grpc::ByteBuffer& b) {
      ++chunks;
      return writer->Write(b);
    });
    ASSERT_TRUE(sent.ok()) << sent;
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::testing::UploadTensorResponse response;
    ASSERT_TRUE(rpc::ParseReply(reply, &response).ok());
    const size_t bytes = source.numel() * source.element_size();
    EXPECT_EQ(response.total_bytes(), bytes);
    EXPECT_EQ(response.chunks(), chunks);
    EXPECT_EQ(response.checksum(), tensor::Checksum(source.data_ptr(), bytes));
    EXPECT_EQ(response.dtype(), *tensor::ToWireDType(source.scalar_type()));
  }
}

TEST_F(TensorTransferTest, CorruptedChunkIsDataLossAndTheServerKeepsServing) {
  const at::Tensor source = at::randn({300, 1000});
  std::vector<v1::TensorChunk> chunks = *tensor::EncodeTensorToChunks("w", source);
  ASSERT_GT(chunks.size(), 1u);
  (*chunks[1].mutable_data())[12345] ^= 0x40;
  v1::testing::UploadTensorResponse response;
  grpc::Status status = Upload(chunks, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(status.error_message(),
              HasSubstr("tensor 'w': checksum mismatch in the chunk at byte 1048576"));

  std::vector<v1::TensorChunk> good = *tensor::EncodeTensorToChunks("w", source);
  ASSERT_TRUE(Upload(good, &response).ok());
  EXPECT_EQ(response.total_bytes(), 1'200'000u);
  EXPECT_EQ(response.chunks(), 2u);
  EXPECT_EQ(response.checksum(), tensor::Checksum(source.data_ptr(), 1'200'000));
  EXPECT_THAT(response.shape(), ::testing::ElementsAre(300, 1000));
}

TEST_F(TensorTransferTest, MalformedStreamsAreInvalidArgument) {
  std::vector<v1::TensorChunk> chunks = *tensor::EncodeTensorToChunks("w", at::ones({1000}), 1000);
  v1::testing::UploadTensorResponse response;
  std::vector<v1::TensorChunk> reordered = {chunks[1], chunks[0]};
  EXPECT_EQ(Upload(reordered, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<v1::TensorChunk> truncated(chunks.begin(), chunks.end() - 1);
  grpc::Status status = Upload(truncated, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("stream ended after 3000 of 4000 bytes"));
  std::vector<v1::TensorChunk> bad_dtype = chunks;
  for (auto& c : bad_dtype) c.set_dtype(v1::DTYPE_UNSPECIFIED);
  status = Upload(bad_dtype, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("unknown dtype 0"));
  EXPECT_TRUE(Upload(chunks, &response).ok());
}

}  // namespace
}  // namespace plumb
