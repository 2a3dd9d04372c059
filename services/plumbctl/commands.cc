#include "services/plumbctl/commands.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_status.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "services/plumbctl/job_spec_file.h"
#include "services/plumbctl/job_text.h"
#include "services/plumbctl/proto_enum_text.h"

namespace plumb::plumbctl {
namespace {

// --all-pages stops here even if a server keeps handing out tokens.
constexpr int kMaxPages = 100'000;

absl::Status Call(const grpc::Status& status) { return rpc::FromGrpcStatus(status); }

}  // namespace

absl::StatusOr<Connection> Connect(const rpc::ChannelOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, rpc::CreateChannel(options));
  return Connection{.options = options, .stub = v1::Coordinator::NewStub(channel)};
}

absl::Status RunSubmit(Connection& connection, const SubmitArgs& args, std::ostream& out,
                       std::ostream& err) {
  v1::SubmitJobRequest request;
  ASSIGN_OR_RETURN(*request.mutable_spec(), LoadJobSpecFile(args.file));
  request.set_idempotency_key(args.idempotency_key);
  request.set_validate_only(args.validate_only);
  v1::SubmitJobResponse response;
  auto context = rpc::NewClientContext(connection.options);
  RETURN_IF_ERROR(Call(connection.stub->SubmitJob(context.get(), request, &response)));
  if (args.validate_only) {
    out << "valid\n";
    return absl::OkStatus();
  }
  if (!response.created()) {
    err << "plumbctl: idempotency key " << Echo(args.idempotency_key)
        << " already names this job; not submitted again\n";
  }
  out << response.job_id() << "\n";
  return absl::OkStatus();
}

absl::Status RunList(Connection& connection, const ListArgs& args, absl::Time now,
                     std::ostream& out, std::ostream& err) {
  v1::ListJobsRequest request;
  for (const std::string& state : args.states) {
    ASSIGN_OR_RETURN(int value, ParseEnumText(v1::JobState_descriptor(), state, "--state"));
    request.add_states(static_cast<v1::JobState>(value));
  }
  if (!args.kind.empty()) {
    ASSIGN_OR_RETURN(int value, ParseEnumText(v1::JobKind_descriptor(), args.kind, "--kind"));
    request.set_kind(static_cast<v1::JobKind>(value));
  }
  for (const std::string& label : args.labels) {
    const size_t equals = label.find('=');
    if (equals == std::string::npos || equals == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label: ", Echo(label), " is not key=value"));
    }
    (*request.mutable_labels())[label.substr(0, equals)] = label.substr(equals + 1);
  }
  if (args.page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--page-size: ", args.page_size, " is negative"));
  }
  request.set_page_size(args.page_size);
  request.set_page_token(args.page_token);
  request.set_include_spec(true);  // the spec gives each stage's round count

  std::vector<v1::Job> jobs;
  absl::flat_hash_set<std::string> tokens_seen;
  for (int page = 0;; ++page) {
    v1::ListJobsResponse response;
    auto context = rpc::NewClientContext(connection.options);
    RETURN_IF_ERROR(Call(connection.stub->ListJobs(context.get(), request, &response)));
    for (v1::Job& job : *response.mutable_jobs()) jobs.push_back(std::move(job));
    const std::string& next = response.next_page_token();
    if (next.empty()) break;
    if (!args.all_pages) {
      out << FormatJobTable(jobs, now);
      err << "plumbctl: more jobs: --page-token " << next << " (or --all-pages)\n";
      return absl::OkStatus();
    }
    if (!tokens_seen.insert(next).second || page + 1 >= kMaxPages) {
      return absl::InternalError(
          absl::StrCat("the coordinator repeated page token ", Echo(next), "; stopping"));
    }
    request.set_page_token(next);
  }
  out << FormatJobTable(jobs, now);
  return absl::OkStatus();
}

absl::Status RunStatus(Connection& connection, const std::string& job_id, bool json,
                       std::ostream& out) {
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  v1::GetJobResponse response;
  auto context = rpc::NewClientContext(connection.options);
  RETURN_IF_ERROR(Call(connection.stub->GetJob(context.get(), request, &response)));
  if (!json) {
    out << FormatJobStatus(response.job());
    return absl::OkStatus();
  }
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string text;
  const auto status = google::protobuf::util::MessageToJsonString(response.job(), &text, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("printing the job as JSON: ", std::string(status.message())));
  }
  out << text;
  if (text.empty() || text.back() != '\n') out << "\n";
  return absl::OkStatus();
}

absl::Status RunCancel(Connection& connection, const std::string& job_id, const std::string& reason,
                       std::ostream& out) {
  v1::CancelJobRequest request;
  request.set_job_id(job_id);
  request.set_reason(reason);
  v1::CancelJobResponse response;
  auto context = rpc::NewClientContext(connection.options);
  RETURN_IF_ERROR(Call(connection.stub->CancelJob(context.get(), request, &response)));
  out << job_id << ": " << EnumText(v1::JobState_descriptor(), response.status().state())
      << (response.status().cancel_requested() ? " (cancel requested)" : "") << "\n";
  return absl::OkStatus();
}

absl::Status RunWorkers(Connection& connection, const WorkersArgs& args, absl::Time now,
                        std::ostream& out) {
  v1::ListWorkersRequest request;
  for (const std::string& role : args.roles) {
    ASSIGN_OR_RETURN(int value, ParseEnumText(v1::WorkerRole_descriptor(), role, "--role"));
    request.add_roles(static_cast<v1::WorkerRole>(value));
  }
  request.set_include_lost(args.include_lost);
  v1::ListWorkersResponse response;
  auto context = rpc::NewClientContext(connection.options);
  RETURN_IF_ERROR(Call(connection.stub->ListWorkers(context.get(), request, &response)));
  out << FormatWorkerTable({response.workers().begin(), response.workers().end()}, now);
  return absl::OkStatus();
}

}  // namespace plumb::plumbctl
