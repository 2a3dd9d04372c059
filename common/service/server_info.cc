#include "common/service/server_info.h"

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/service/service_host.h"

namespace plumb::service {
namespace {

struct Serving {
  absl::Mutex mu;
  std::string endpoint ABSL_GUARDED_BY(mu);
  int64_t max_message_bytes ABSL_GUARDED_BY(mu) = 0;
  const absl::Time start = absl::Now();  // first use: before the server starts
};

Serving& State() {
  static Serving* serving = new Serving();
  return *serving;
}

}  // namespace

void RecordServing(const std::string& endpoint, int64_t max_message_bytes) {
  Serving& s = State();
  absl::MutexLock lock(&s.mu);
  s.endpoint = endpoint;
  s.max_message_bytes = max_message_bytes;
}

std::string ServingEndpoint() {
  Serving& s = State();
  absl::MutexLock lock(&s.mu);
  return s.endpoint;
}

void FillServerInfo(v1::ServerInfo* info) {
  Serving& s = State();
  absl::MutexLock lock(&s.mu);
  info->set_build_version(PlumbVersion());
  info->set_endpoint(s.endpoint);
  info->set_max_message_bytes(s.max_message_bytes);
  const int64_t nanos = absl::ToUnixNanos(s.start);
  info->mutable_start_time()->set_seconds(nanos / 1000000000);
  info->mutable_start_time()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

}  // namespace plumb::service
