// The `coordinator:` section of plumb-coordinator's YAML:
//
//   coordinator:
//     state_path: state/coordinator.db   # the SQLite state (WAL); relative to the config's folder
//     data_roots: [data]                 # datasets a job may name (paths outside are refused)
//     checkpoint_roots: ["."]            # checkpoint paths a job may name, as the learner reads
//                                        # them (relative = under the learner's checkpoint root)
//     job_root: jobs                     # a job's output_dir when its spec leaves it empty
//     max_queued_jobs: 1000
//     heartbeat_interval: 5s             # what RegisterWorker tells workers
//     lease_duration: 15s                # a worker silent this long is LOST
//     probe_interval: 2s                 # health checks of the workers listed below
//     users_file: users.txt              # lines "<token> <user> [admin]"; unset: every caller is
//                                        # the admin "local" (only on a loopback address)
//     workers:                           # endpoints present from start-up, per role
//       generators: ["127.0.0.1:50051"]
//       scorers: ["127.0.0.1:50052"]
//       references: ["127.0.0.1:50053"]
//       learners: ["127.0.0.1:50054"]
//       client: { deadline: 600s, tls: {...}, auth: {token_file: ...} }  # calls to workers
//
// Thread safety: start-up only.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_OPTIONS_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_OPTIONS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/config/config_map.h"
#include "common/rpc/channel_factory.h"

namespace plumb::coordinator {

struct UserInfo {
  std::string name;
  bool admin = false;
};

struct CoordinatorConfig {
  std::string state_path;
  std::vector<std::string> data_roots;
  std::vector<std::string> checkpoint_roots;
  std::string job_root = "jobs";
  int max_queued_jobs = 1000;
  absl::Duration heartbeat_interval = absl::Seconds(5);
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration probe_interval = absl::Seconds(2);
  std::map<std::string, UserInfo> users;  // by token; empty: no authentication
  std::vector<std::string> generators, scorers, references, learners;
  rpc::ChannelOptions client;  // target unused: one channel per worker endpoint
};

// Reads the section; relative paths are resolved against `base_dir`. Errors name the key.
absl::Status ParseCoordinatorSection(config::ConfigMap& root, const std::string& base_dir,
                                     CoordinatorConfig* out);

// "<token> <user> [admin]" per line; '#' comments and blank lines skipped. INVALID_ARGUMENT
// naming the file and line for a malformed line, a repeated token, or a token shorter than 16
// bytes.
absl::StatusOr<std::map<std::string, UserInfo>> ParseUsersFile(const std::string& path,
                                                               const std::string& text);

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_OPTIONS_H_
