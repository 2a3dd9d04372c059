// learner::SessionOptions -> plumb.v1.TrainingConfig: the inverse of the learner adapter's
// SessionOptionsFromProto, with every field written explicitly, so that the learner rebuilds the
// same options (up to float precision on the wire). Options the API cannot express (a DPO loss
// other than sigmoid / IPO / hinge, non-default RRHF or KTO reductions, a device other than the
// CPU) are INVALID_ARGUMENT naming the option.
#ifndef PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_PROTO_H_
#define PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_PROTO_H_

#include "absl/status/statusor.h"
#include "common/api/learner_options.h"
#include "plumb/v1/learner.pb.h"

namespace plumb::clients {

absl::StatusOr<v1::TrainingConfig> TrainingConfigFromOptions(const learner::SessionOptions& o);

}  // namespace plumb::clients

#endif  // PLUMB_COMMON_CLIENTS_LEARNER_CONFIG_PROTO_H_
