// plumbctl's one-shot subcommands (submit, list, status, cancel, workers) as functions over a
// Coordinator stub, printing to the streams they are given. The CLI (cli.h) parses flags into
// these argument structs; tests call the CLI against a fake coordinator on loopback.
//
// Each returns the RPC's error as a Status (the CLI prints it and exits 1).
#ifndef PLUMB_SERVICES_PLUMBCTL_COMMANDS_H_
#define PLUMB_SERVICES_PLUMBCTL_COMMANDS_H_

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/rpc/channel_factory.h"
#include "plumb/v1/coordinator.grpc.pb.h"

namespace plumb::plumbctl {

// A channel to the coordinator and the options every call's context is made from.
struct Connection {
  rpc::ChannelOptions options;
  std::unique_ptr<v1::Coordinator::StubInterface> stub;
};

// The channel is created lazily: nothing is dialled until the first call.
absl::StatusOr<Connection> Connect(const rpc::ChannelOptions& options);

struct SubmitArgs {
  std::string file;
  bool validate_only = false;
  std::string idempotency_key;
};
// Prints the job id alone on a line (for `id=$(plumbctl submit job.yaml)`), or "valid" with
// validate_only. A job de-duplicated by its idempotency key prints its existing id, and a note on
// `err`.
absl::Status RunSubmit(Connection& connection, const SubmitArgs& args, std::ostream& out,
                       std::ostream& err);

struct ListArgs {
  std::vector<std::string> states;  // "running", "QUEUED", "JOB_STATE_FAILED" ...
  std::string kind;                 // "ppo", "grpo" ...; empty = all
  std::vector<std::string> labels;  // "key=value", all must match
  int page_size = 0;                // 0 = the server's default (50)
  std::string page_token;
  bool all_pages = false;
};
// The jobs table. Without all_pages and with more jobs to come, a note on `err` gives the
// --page-token of the next page.
absl::Status RunList(Connection& connection, const ListArgs& args, absl::Time now,
                     std::ostream& out, std::ostream& err);

// The job's status block, or with `json` the whole Job as protobuf JSON (proto field names).
absl::Status RunStatus(Connection& connection, const std::string& job_id, bool json,
                       std::ostream& out);

// Prints the job's state after the request ("RUNNING (cancel requested)" or "CANCELLED").
absl::Status RunCancel(Connection& connection, const std::string& job_id, const std::string& reason,
                       std::ostream& out);

struct WorkersArgs {
  std::vector<std::string> roles;  // "generator", "scorer", ...; empty = all
  bool include_lost = false;
};
absl::Status RunWorkers(Connection& connection, const WorkersArgs& args, absl::Time now,
                        std::ostream& out);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_COMMANDS_H_
