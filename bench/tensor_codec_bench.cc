// Throughput of moving a tensor between processes-worth of threads over loopback:
//   BM_RawTcpLoopback         plain send()/recv() of the same bytes on a 127.0.0.1 socket — the
//                             ceiling any protocol on this machine can reach;
//   BM_TensorUploadOverGrpc   the tensor codec on a real gRPC client stream into a real server
//                             (chunking, checksum, reassembly, checksum verification included);
//   BM_TensorCodecInMemory    encode + reassemble without a network, the codec's own cost.
// Each reports bytes_per_second; BENCHMARKS.md compares the first two (same run, medians).
#include <ATen/ATen.h>
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "common/rpc/channel_factory.h"
#include "common/rpc/raw_stream.h"
#include "common/rpc/server_runner.h"
#include "common/service/malloc_tuning.h"
#include "common/tensor/tensor_codec.h"
#include "common/tensor/tensor_wire.h"
#include "tests/support/echo_service.h"

namespace {

constexpr int64_t kTensorBytes = 100'000'000;
constexpr size_t kIoChunk = 1 << 20;

at::Tensor MakeTensor() {
  at::manual_seed(1);
  return at::randn({kTensorBytes / 4});
}

void BM_RawTcpLoopback(benchmark::State& state) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  listen(listener, 1);

  // The receiver copies every byte into a tensor-sized buffer, as a real receiver must.
  std::thread receiver([listener] {
    const int connection = accept(listener, nullptr, nullptr);
    std::vector<char> destination(kTensorBytes);
    int64_t offset = 0;
    while (true) {
      const ssize_t n = recv(connection, destination.data() + offset,
                             std::min<int64_t>(kIoChunk, kTensorBytes - offset), 0);
      if (n <= 0) break;
      offset = (offset + n) % kTensorBytes;
    }
    close(connection);
  });
  const int sender = socket(AF_INET, SOCK_STREAM, 0);
  connect(sender, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  const at::Tensor tensor = MakeTensor();
  const char* bytes = static_cast<const char*>(tensor.data_ptr());
  for (auto _ : state) {
    int64_t offset = 0;
    while (offset < kTensorBytes) {
      const ssize_t n =
          send(sender, bytes + offset, std::min<int64_t>(kIoChunk, kTensorBytes - offset), 0);
      if (n <= 0) state.SkipWithError("send failed");
      offset += n;
    }
  }
  close(sender);
  receiver.join();
  close(listener);
  state.SetBytesProcessed(state.iterations() * kTensorBytes);
}
BENCHMARK(BM_RawTcpLoopback)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_TensorUploadOverGrpc(benchmark::State& state) {
  plumb::testing::EchoServiceImpl service;
  plumb::rpc::ServerOptions options;
  options.address = "127.0.0.1:0";
  auto runner = plumb::rpc::ServerRunner::Start(
      options, {plumb::rpc::Hosted<plumb::v1::testing::EchoService>(&service)});
  if (!runner.ok()) return state.SkipWithError("server did not start");
  plumb::rpc::ChannelOptions client{.target = "127.0.0.1:" + std::to_string((*runner)->port())};
  auto stub = plumb::v1::testing::EchoService::NewStub(*plumb::rpc::CreateChannel(client));
  const at::Tensor tensor = MakeTensor();
  const size_t chunk_bytes = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    plumb::v1::testing::UploadTensorResponse response;
    auto context = plumb::rpc::NewClientContext(client);
    auto writer = stub->UploadTensor(context.get(), &response);
    absl::Status sent = plumb::tensor::EncodeTensor(
        "w", tensor, [&](const plumb::v1::TensorChunk& chunk) { return writer->Write(chunk); },
        chunk_bytes);
    writer->WritesDone();
    if (!sent.ok() || !writer->Finish().ok() ||
        response.total_bytes() != static_cast<uint64_t>(kTensorBytes)) {
      state.SkipWithError("upload failed");
    }
  }
  state.SetBytesProcessed(state.iterations() * kTensorBytes);
}
BENCHMARK(BM_TensorUploadOverGrpc)
    ->Arg(256 << 10)
    ->Arg(1 << 20)
    ->Arg(3 << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same upload, the client sending zero-copy chunks (tensor_wire.h) on a raw stream.
void BM_TensorUploadOverGrpcZeroCopy(benchmark::State& state) {
  plumb::testing::EchoServiceImpl service;
  plumb::rpc::ServerOptions options;
  options.address = "127.0.0.1:0";
  auto runner = plumb::rpc::ServerRunner::Start(
      options, {plumb::rpc::Hosted<plumb::v1::testing::EchoService>(&service)});
  if (!runner.ok()) return state.SkipWithError("server did not start");
  plumb::rpc::ChannelOptions client{.target = "127.0.0.1:" + std::to_string((*runner)->port())};
  auto channel = *plumb::rpc::CreateChannel(client);
  const at::Tensor tensor = MakeTensor();
  const size_t chunk_bytes = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    grpc::ByteBuffer reply;
    auto context = plumb::rpc::NewClientContext(client);
    auto writer = plumb::rpc::StartRawClientStream(
        channel, "/plumb.v1.testing.EchoService/UploadTensor", context.get(), &reply);
    absl::Status sent = plumb::tensor::EncodeTensorToWire(
        "w", tensor, [&](const grpc::ByteBuffer& chunk) { return writer->Write(chunk); },
        chunk_bytes);
    writer->WritesDone();
    plumb::v1::testing::UploadTensorResponse response;
    if (!sent.ok() || !writer->Finish().ok() || !plumb::rpc::ParseReply(reply, &response).ok() ||
        response.total_bytes() != static_cast<uint64_t>(kTensorBytes)) {
      state.SkipWithError("upload failed");
    }
  }
  state.SetBytesProcessed(state.iterations() * kTensorBytes);
}
BENCHMARK(BM_TensorUploadOverGrpcZeroCopy)
    ->Arg(1 << 20)
    ->Arg(3 << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_TensorCodecInMemory(benchmark::State& state) {
  const at::Tensor tensor = MakeTensor();
  for (auto _ : state) {
    plumb::tensor::TensorAssembler assembler;
    bool done = false;
    absl::Status status =
        plumb::tensor::EncodeTensor("w", tensor, [&](const plumb::v1::TensorChunk& chunk) {
          auto added = assembler.Add(plumb::tensor::ViewOf(chunk));
          done = added.ok() && added->has_value();
          return added.ok();
        });
    if (!status.ok() || !done) state.SkipWithError("codec failed");
  }
  state.SetBytesProcessed(state.iterations() * kTensorBytes);
}
BENCHMARK(BM_TensorCodecInMemory)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  // The same allocator settings every Plumb service applies at start (ServiceHost::Start).
  plumb::service::TuneMallocForLargeBuffers();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
