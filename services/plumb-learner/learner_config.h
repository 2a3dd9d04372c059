// The `learner:` section of plumb-learner's YAML (the server, metrics and logging sections are
// common/service's):
//
//   learner:
//     threads: 0                       # LibTorch threads; 0 = every core
//     distributed_timeout_seconds: 300 # collective / rendezvous timeout of data-parallel ranks
//     checkpoint_root: checkpoints     # SaveCheckpoint / LoadCheckpoint paths live here
//     model_roots: [models]            # StartSession may also read policies from these
//     publish_targets: ["gen-0:50052"] # the only endpoints PublishWeights sends weights to
//     publish_client:                  # how it connects to them (common/rpc/channel_factory.h:
//       tls: {ca_file: ca.pem}         #   deadline, retry, tls, auth.token_file; no target)
//       auth: {token_file: token}
//
// Relative paths are resolved against the YAML file's folder; an unset checkpoint_root is
// "checkpoints" under the working directory.
//
// Thread safety: start-up only.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CONFIG_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/config/config_map.h"
#include "common/rpc/channel_factory.h"
#include "services/plumb-learner/learner_storage.h"

namespace plumb::learner {

struct LearnerConfig {
  int threads = 0;
  int distributed_timeout_seconds = 300;
  StorageOptions storage;
  // Exact gRPC targets ("host:port", "dns:///name:port"); empty = PublishWeights sends nowhere.
  std::vector<std::string> publish_targets;
  rpc::ChannelOptions publish_client;  // target unused
};

// Reads the optional `learner:` section of `root`; `config_dir` anchors relative paths.
absl::Status ParseLearnerSection(config::ConfigMap& root, const std::string& config_dir,
                                 LearnerConfig* config);

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_CONFIG_H_
