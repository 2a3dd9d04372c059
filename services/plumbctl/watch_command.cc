#include "services/plumbctl/watch_command.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/rpc/grpc_status.h"
#include "common/status/status_macros.h"
#include "services/plumbctl/job_text.h"
#include "services/plumbctl/progress_display.h"

namespace plumb::plumbctl {
namespace {

bool IsTerminal(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED;
}

// Codes after which WatchJob is resumed from the last sequence (coordinator.proto).
bool IsResumable(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kResourceExhausted;
}

}  // namespace

absl::StatusOr<v1::Job> GetJob(Connection& connection, const std::string& job_id) {
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  v1::GetJobResponse response;
  auto context = rpc::NewClientContext(connection.options);
  RETURN_IF_ERROR(rpc::FromGrpcStatus(connection.stub->GetJob(context.get(), request, &response)));
  return std::move(*response.mutable_job());
}

int ExitCodeForState(v1::JobState state) {
  switch (state) {
    case v1::JOB_STATE_SUCCEEDED:
      return kExitSucceeded;
    case v1::JOB_STATE_CANCELLED:
      return kExitCancelled;
    default:
      return kExitFailed;
  }
}

absl::StatusOr<int> RunWatch(Connection& connection, const std::string& job_id,
                             const WatchOptions& options, std::ostream& out, std::ostream& err) {
  ASSIGN_OR_RETURN(v1::Job job, GetJob(connection, job_id));
  ProgressDisplay display(job.spec(), options.terminal, &out);
  v1::JobState state = job.status().state();
  uint64_t last_sequence = 0;
  int breaks = 0;
  while (true) {
    v1::WatchJobRequest request;
    request.set_job_id(job_id);
    request.set_after_sequence(last_sequence);
    auto context = rpc::NewClientContext(connection.options, absl::InfiniteDuration());
    std::unique_ptr<grpc::ClientReaderInterface<v1::JobEvent>> reader =
        connection.stub->WatchJob(context.get(), request);
    v1::JobEvent event;
    while (reader->Read(&event)) {
      if (event.sequence() <= last_sequence) continue;  // never print an event twice
      last_sequence = event.sequence();
      if (event.state() != v1::JOB_STATE_UNSPECIFIED) state = event.state();
      breaks = 0;
      display.Add(event);
    }
    absl::Status status = rpc::FromGrpcStatus(reader->Finish());
    if (status.ok()) {
      if (IsTerminal(state)) {
        display.Finish();
        return ExitCodeForState(state);
      }
      status = absl::UnavailableError("the event stream ended before the job finished");
    } else if (!IsResumable(status.code())) {
      display.Finish();
      return status;
    }
    if (++breaks > options.max_reconnects) {
      display.Finish();
      return absl::Status(status.code(), absl::StrCat("gave up after ", options.max_reconnects,
                                                      " reconnects: ", status.message()));
    }
    absl::Duration backoff = options.initial_backoff;
    for (int i = 1; i < breaks && backoff < options.max_backoff; ++i) backoff *= 2;
    backoff = std::min(backoff, options.max_backoff);
    display.Finish();
    err << "plumbctl: watch: " << absl::StatusCodeToString(status.code()) << ": "
        << status.message() << "; resuming after event " << last_sequence << " in "
        << absl::FormatDuration(backoff) << " (" << breaks << "/" << options.max_reconnects
        << ")\n";
    err.flush();
    absl::SleepFor(backoff);
  }
}

absl::Status ReadStoredEvents(Connection& connection, const std::string& job_id,
                              uint64_t after_sequence,
                              const std::function<void(const v1::JobEvent&)>& on_event) {
  ASSIGN_OR_RETURN(v1::Job job, GetJob(connection, job_id));
  const uint64_t latest = job.status().last_event_sequence();
  if (latest <= after_sequence) return absl::OkStatus();
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  request.set_after_sequence(after_sequence);
  auto context = rpc::NewClientContext(connection.options);
  std::unique_ptr<grpc::ClientReaderInterface<v1::JobEvent>> reader =
      connection.stub->WatchJob(context.get(), request);
  v1::JobEvent event;
  bool caught_up = false;
  while (reader->Read(&event)) {
    if (event.sequence() <= after_sequence) continue;
    after_sequence = event.sequence();
    on_event(event);
    if (event.sequence() >= latest) {
      caught_up = true;
      context->TryCancel();  // stop here instead of waiting for the job's next event
      break;
    }
  }
  absl::Status status = rpc::FromGrpcStatus(reader->Finish());
  if (caught_up || status.ok()) return absl::OkStatus();
  return status;
}

absl::Status RunEvents(Connection& connection, const std::string& job_id, uint64_t after_sequence,
                       std::ostream& out) {
  absl::Status status =
      ReadStoredEvents(connection, job_id, after_sequence,
                       [&](const v1::JobEvent& event) { out << FormatEventLine(event) << "\n"; });
  out.flush();
  return status;
}

}  // namespace plumb::plumbctl
