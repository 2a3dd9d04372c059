// `plumbctl local up|down|status`: a whole Plumb cluster on this machine — generator, scorer,
// reference, learner and coordinator — from the config templates in configs/local/. Everything
// the cluster writes lives in one run folder:
//   <run>/config/<service>.yaml   the templates with {run} and {<service>_port} filled in
//   <run>/logs/<service>.log      each service's stdout and stderr
//   <run>/pids/<service>.pid      each service's process id
//   <run>/models/policy           a tiny random model (plumb-model init), made when missing
//   <run>/state, checkpoints, data
// Ports: the generator, scorer, reference and learner listen on base+1 .. base+4 and the
// coordinator on base+10 (base 50050: the coordinator on plumbctl's default 127.0.0.1:50060).
// `up` starts what is not running and waits until every service answers its health check as
// SERVING; a service that fails to start stops the ones this call started and shows its log.
//
// Thread safety: plain functions; one plumbctl process manages a run folder at a time.
#ifndef PLUMB_SERVICES_PLUMBCTL_LOCAL_CLUSTER_H_
#define PLUMB_SERVICES_PLUMBCTL_LOCAL_CLUSTER_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace plumb::plumbctl {

struct LocalClusterOptions {
  std::string config_dir;  // the templates (configs/local)
  std::string run_dir;     // default ".plumb/local" under the working directory
  std::string bin_dir;     // where plumb-<service> and plumb-model are; default: plumbctl's own
  int base_port = 50050;
  absl::Duration timeout = absl::Seconds(120);  // for every service to become healthy
};

absl::Status LocalUp(const LocalClusterOptions& options, std::ostream& out);
// Stops the services (SIGTERM, then SIGKILL after 30 s), the coordinator first.
absl::Status LocalDown(const LocalClusterOptions& options, std::ostream& out);
// One line per service: name, pid, endpoint, health. UNAVAILABLE when one is not SERVING.
absl::Status LocalStatus(const LocalClusterOptions& options, std::ostream& out);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_LOCAL_CLUSTER_H_
