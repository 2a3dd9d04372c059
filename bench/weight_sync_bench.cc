// Weight sync of a model learner -> 2 generators over loopback, beside raw loopback TCP in the
// same run, and whether the generators keep serving during the swap.
//
//   build/bin/plumb-bench-weight-sync [--reps 5] [--size 25m]
//
// Starts the real binaries (plumb-model init, two plumb-generator, one plumb-learner) on port 0.
// Each repetition: one SFT step (so the version moves), then Learner.PublishWeights to both
// generators while a prober sends small Generate requests to generator A back to back. Prints
// medians: publish throughput (bytes to both targets / publish seconds) against two parallel
// raw-TCP transfers of the same bytes (socket to socket, the receiver copying into a buffer), and
// the prober's failures and worst latency during the publish against its latency without one.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "plumb/v1/generator.grpc.pb.h"
#include "plumb/v1/learner.grpc.pb.h"
#include "tests/support/service_process.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Seconds to push `bytes` through one loopback TCP connection (receiver copies into a buffer).
double RawTransfer(int64_t bytes, const std::vector<char>& source) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  listen(listener, 1);
  std::thread receiver([listener, bytes] {
    const int connection = accept(listener, nullptr, nullptr);
    std::vector<char> destination(bytes);
    int64_t offset = 0;
    while (offset < bytes) {
      const ssize_t n = recv(connection, destination.data() + offset,
                             std::min<int64_t>(1 << 20, bytes - offset), 0);
      if (n <= 0) break;
      offset += n;
    }
    close(connection);
  });
  const int sender = socket(AF_INET, SOCK_STREAM, 0);
  connect(sender, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  const auto start = Clock::now();
  int64_t offset = 0;
  while (offset < bytes) {
    const ssize_t n = send(sender, source.data() + (offset % static_cast<int64_t>(source.size())),
                           std::min<int64_t>(1 << 20, bytes - offset), 0);
    if (n <= 0) break;
    offset += n;
  }
  close(sender);
  receiver.join();
  close(listener);
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One small Generate call; returns its latency in seconds, or a negative number on failure.
double Probe(plumb::v1::Generator::Stub& stub) {
  plumb::v1::GenerateRequest request;
  plumb::v1::Prompt* prompt = request.add_prompts();
  prompt->set_id("probe");
  prompt->mutable_token_ids()->add_ids(256);
  prompt->mutable_token_ids()->add_ids(72);
  request.mutable_sampling()->set_max_new_tokens(4);
  request.mutable_sampling()->set_seed(1);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  const auto start = Clock::now();
  std::unique_ptr<grpc::ClientReader<plumb::v1::Rollout>> reader = stub.Generate(&context, request);
  plumb::v1::Rollout rollout;
  int rollouts = 0;
  while (reader->Read(&rollout)) ++rollouts;
  const bool ok = reader->Finish().ok() && rollouts == 1;
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return ok ? seconds : -1;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  std::string size = "25m";
  CLI::App app(
      "Weight sync: the learner publishes a policy to two generators, beside raw loopback TCP "
      "in the same run (scripts/bench.sh sync).",
      "plumb-bench-weight-sync");
  app.add_option("--reps", reps, "Publishes measured (the median is reported)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--size", size, "plumb-model init --size of the policy (tiny, 25m, ...)");
  CLI11_PARSE(app, argc, argv);
  const fs::path root =
      fs::temp_directory_path() / ("plumb_bench_weight_sync_" + std::to_string(getpid()));
  fs::create_directories(root);
  const std::string model = (root / "policy").string();
  if (std::system((plumb::testing::BinaryPath("plumb-model") + " init --out " + model + " --size " +
                   size + " >/dev/null")
                      .c_str()) != 0) {
    std::fprintf(stderr, "plumb-model init failed\n");
    return 1;
  }
  const std::string common = "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\n";
  std::ofstream(root / "gen.yaml")
      << common << "generator:\n  model: {path: policy}\n  threads: 1\n";
  std::vector<plumb::testing::RunningService> services;
  for (const auto& [binary, config] :
       {std::pair{"plumb-generator", "gen.yaml"}, std::pair{"plumb-generator", "gen.yaml"},
        std::pair{"plumb-learner", "learner.yaml"}}) {
    if (std::string(binary) == "plumb-learner") {
      // The learner publishes only to allow-listed endpoints: the two generators just started.
      std::ofstream(root / "learner.yaml")
          << common << "learner: {model_roots: [\".\"], publish_targets: [\""
          << services[0].endpoint << "\", \"" << services[1].endpoint << "\"]}\n";
    }
    absl::StatusOr<plumb::testing::RunningService> service =
        plumb::testing::StartService(binary, (root / config).string(), absl::Seconds(120));
    if (!service.ok()) {
      std::fprintf(stderr, "%s\n", service.status().ToString().c_str());
      return 1;
    }
    services.push_back(*std::move(service));
  }
  const std::string a = services[0].endpoint, b = services[1].endpoint, l = services[2].endpoint;
  auto learner =
      plumb::v1::Learner::NewStub(grpc::CreateChannel(l, grpc::InsecureChannelCredentials()));
  auto prober =
      plumb::v1::Generator::NewStub(grpc::CreateChannel(a, grpc::InsecureChannelCredentials()));

  plumb::v1::StartSessionRequest start_request;
  start_request.mutable_config()->set_algorithm(plumb::v1::ALGORITHM_SFT);
  start_request.mutable_config()->mutable_optimizer()->set_learning_rate(1e-5f);
  start_request.set_policy_checkpoint(model);
  plumb::v1::StartSessionResponse session;
  {
    grpc::ClientContext context;
    grpc::Status status = learner->StartSession(&context, start_request, &session);
    if (!status.ok()) {
      std::fprintf(stderr, "StartSession: %s\n", status.error_message().c_str());
      return 1;
    }
  }
  // Prober latency without a publish.
  std::vector<double> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(Probe(*prober));

  std::vector<double> publish_gbps, raw_gbps, worst_latency, publish_seconds;
  int failures = 0, probes = 0;
  uint64_t bytes_per_publish = 0;
  for (int rep = 0; rep < reps; ++rep) {
    plumb::v1::TrainRequest train;
    train.set_session_id(session.session_id());
    plumb::v1::SftExample* example = train.mutable_sft()->add_examples();
    example->add_prompt_token_ids(256);
    for (int t = 0; t < 8; ++t) example->add_completion_token_ids(65 + t);
    {
      grpc::ClientContext context;
      plumb::v1::TrainResponse response;
      if (!learner->Train(&context, train, &response).ok()) return 1;
    }
    std::atomic<bool> publishing{true};
    std::vector<double> during;
    std::thread probe_thread([&] {
      while (publishing.load()) during.push_back(Probe(*prober));
    });
    plumb::v1::PublishWeightsRequest publish;
    publish.set_session_id(session.session_id());
    publish.add_targets()->set_endpoint(a);
    publish.add_targets()->set_endpoint(b);
    plumb::v1::PublishWeightsResponse published;
    grpc::ClientContext context;
    grpc::Status status = learner->PublishWeights(&context, publish, &published);
    publishing.store(false);
    probe_thread.join();
    if (!status.ok() || published.failed_targets() != 0) {
      std::fprintf(
          stderr, "PublishWeights failed: %s %s\n", status.error_message().c_str(),
          published.results_size() > 0 ? published.results(0).error_message().c_str() : "");
      return 1;
    }
    bytes_per_publish = published.bytes();
    publish_seconds.push_back(published.seconds());
    publish_gbps.push_back(published.bytes() / published.seconds() / 1e9);
    double worst = 0;
    for (double s : during) {
      ++probes;
      if (s < 0) ++failures;
      worst = std::max(worst, s);
    }
    worst_latency.push_back(worst);
    // The same bytes over two raw loopback connections at once.
    const int64_t per_target = static_cast<int64_t>(published.bytes() / 2);
    std::vector<char> source(1 << 24, 1);
    const auto raw_start = Clock::now();
    std::thread second([&] { RawTransfer(per_target, source); });
    RawTransfer(per_target, source);
    second.join();
    const double raw_seconds = std::chrono::duration<double>(Clock::now() - raw_start).count();
    raw_gbps.push_back(2.0 * per_target / raw_seconds / 1e9);
  }
  const double publish = Median(publish_gbps), raw = Median(raw_gbps);
  std::printf("model %s: %.1f MB of float32 weights per target, %d repetitions (medians)\n",
              size.c_str(), bytes_per_publish / 2 / 1e6, reps);
  std::printf("| measure | value |\n|---|---|\n");
  std::printf(
      "| publish to 2 generators (learner -> LoadWeights, parallel) | %.3f s, %.2f GB/s |\n",
      Median(publish_seconds), publish);
  std::printf("| raw loopback TCP, 2 parallel connections, same bytes | %.2f GB/s |\n", raw);
  std::printf("| publish throughput / raw | %.0f%% |\n", 100.0 * publish / raw);
  std::printf("| Generate probes during publishes: failed / sent | %d / %d |\n", failures, probes);
  std::printf("| probe latency without a publish (median) | %.1f ms |\n", 1e3 * Median(idle));
  std::printf("| worst probe latency during a publish (median over reps) | %.1f ms |\n",
              1e3 * Median(worst_latency));
  std::error_code ec;
  fs::remove_all(root, ec);
  return 0;
}
