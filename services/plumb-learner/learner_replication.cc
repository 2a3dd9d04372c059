#include "services/plumb-learner/learner_replication.h"

#include <torch/torch.h>

#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clients/learner_config_proto.h"
#include "common/status/status_macros.h"
#include "services/plumb-learner/learner_proto_conversion.h"

namespace plumb::learner {
namespace {

// Wire format of one command: a 3-element int64 header {command, id bytes, request bytes}, then
// (when either is non-empty) one uint8 tensor holding the id followed by the serialized request.
absl::Status Broadcast(train::World& world, Command command, const std::string& id,
                       const std::string& payload) {
  at::Tensor header = torch::tensor({static_cast<int64_t>(command), static_cast<int64_t>(id.size()),
                                     static_cast<int64_t>(payload.size())},
                                    torch::kLong);
  RETURN_IF_ERROR(world.Broadcast({header}));
  if (id.empty() && payload.empty()) return absl::OkStatus();
  const std::string bytes = id + payload;
  at::Tensor body = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kByte);
  std::memcpy(body.data_ptr(), bytes.data(), bytes.size());
  return world.Broadcast({body});
}

struct Received {
  Command command;
  std::string id, payload;
};

absl::StatusOr<Received> Receive(train::World& world) {
  at::Tensor header = torch::zeros({3}, torch::kLong);
  RETURN_IF_ERROR(world.Broadcast({header}));
  Received r;
  r.command = static_cast<Command>(header[0].item<int64_t>());
  const int64_t id_size = header[1].item<int64_t>(), payload_size = header[2].item<int64_t>();
  if (id_size < 0 || payload_size < 0) return absl::DataLossError("a malformed command header");
  if (id_size + payload_size > 0) {
    at::Tensor body = torch::empty({id_size + payload_size}, torch::kByte);
    RETURN_IF_ERROR(world.Broadcast({body}));
    const char* data = static_cast<const char*>(body.data_ptr());
    r.id.assign(data, static_cast<size_t>(id_size));
    r.payload.assign(data + id_size, static_cast<size_t>(payload_size));
  }
  return r;
}

}  // namespace

absl::StatusOr<SessionStatus> RunStartSession(LearnerCore& core,
                                              const v1::StartSessionRequest& request,
                                              const std::string& id, bool* created) {
  ASSIGN_OR_RETURN(SessionOptions options, clients::SessionOptionsFromProto(request.config()));
  options.policy_path = request.policy_checkpoint();
  options.value_path = request.value_checkpoint();
  return core.StartSession(options, request.session_key(), request.replace_active(), created, id);
}

absl::StatusOr<TrainStats> RunTrain(LearnerCore& core, const v1::TrainRequest& request,
                                    const CancelPredicate& cancelled) {
  const std::string& session = request.session_id();
  switch (request.batch_case()) {
    case v1::TrainRequest::kExperience:
      return core.TrainExperience(session, ToExperiences(request.experience()),
                                  TemperatureOf(request.experience()), cancelled);
    case v1::TrainRequest::kPreference:
      return core.TrainPreference(session, ToPreferences(request.preference()), cancelled);
    case v1::TrainRequest::kSft:
      return core.TrainSft(session, ToSftExamples(request.sft()), cancelled);
    case v1::TrainRequest::kUnpaired:
      return core.TrainUnpaired(session, ToUnpaired(request.unpaired()), cancelled);
    case v1::TrainRequest::kRanked:
      return core.TrainRanked(session, ToRankedGroups(request.ranked()), cancelled);
    default:
      return absl::InvalidArgumentError("no batch in the request");
  }
}

Replicator::Replicator(train::World* world, absl::Duration heartbeat) : world_(world) {
  if (world_->size() == 1) return;
  heartbeat_ = std::thread([this, heartbeat] {
    while (!stop_.WaitForNotificationWithTimeout(heartbeat)) {
      // A call in progress keeps the other ranks busy: no heartbeat is needed then.
      if (!mu_.TryLock()) continue;
      if (!shut_down_) {
        absl::Status sent = SendLocked(Command::kHeartbeat, "", nullptr);
        if (!sent.ok()) {
          std::fprintf(stderr, "plumb-learner: rank 0 lost the other ranks: %s\n",
                       std::string(sent.message()).c_str());
        }
      }
      mu_.Unlock();
    }
  });
}

Replicator::~Replicator() {
  Shutdown();
  stop_.Notify();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void Replicator::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_ || world_->size() == 1) return;
  (void)SendLocked(Command::kShutdown, "", nullptr);
  shut_down_ = true;
}

absl::Status Replicator::SendLocked(Command command, const std::string& id,
                                    const google::protobuf::Message* request) {
  std::string payload;
  if (request != nullptr && !request->SerializeToString(&payload)) {
    return absl::InternalError("could not serialize the request for the other ranks");
  }
  absl::Status status = Broadcast(*world_, command, id, payload);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("a data-parallel rank is lost (", status.message(), ")"));
  }
  return absl::OkStatus();
}

absl::Status Replicator::Run(Command command, const std::string& id,
                             const google::protobuf::Message* request,
                             const std::function<void()>& local) {
  absl::MutexLock lock(&mu_);
  if (world_->size() > 1) {
    if (shut_down_) return absl::UnavailableError("the learner is shutting down");
    RETURN_IF_ERROR(SendLocked(command, id, request));
  }
  local();
  return absl::OkStatus();
}

absl::Status FollowRankZero(train::World* world, LearnerCore* core) {
  while (true) {
    absl::StatusOr<Received> received = Receive(*world);
    if (!received.ok()) {
      return absl::UnavailableError(
          absl::StrCat("rank ", world->rank(), " lost rank 0: ", received.status().message()));
    }
    absl::Status status = absl::OkStatus();
    switch (received->command) {
      case Command::kHeartbeat:
        continue;
      case Command::kShutdown:
        return absl::OkStatus();
      case Command::kStartSession: {
        v1::StartSessionRequest request;
        if (!request.ParseFromString(received->payload)) {
          return absl::DataLossError("a malformed StartSession command");
        }
        bool created = false;
        status = RunStartSession(*core, request, received->id, &created).status();
        break;
      }
      case Command::kTrain: {
        v1::TrainRequest request;
        if (!request.ParseFromString(received->payload)) {
          return absl::DataLossError("a malformed Train command");
        }
        status = RunTrain(*core, request).status();
        break;
      }
      case Command::kLoadCheckpoint: {
        v1::LoadCheckpointRequest request;
        if (!request.ParseFromString(received->payload)) {
          return absl::DataLossError("a malformed LoadCheckpoint command");
        }
        status = core->LoadCheckpoint(request.session_id(), request.path(), request.weights_only())
                     .status();
        break;
      }
      case Command::kEndSession: {
        v1::EndSessionRequest request;
        if (!request.ParseFromString(received->payload)) {
          return absl::DataLossError("a malformed EndSession command");
        }
        status = core->EndSession(request.session_id()).status();
        break;
      }
      default:
        return absl::DataLossError(
            absl::StrCat("unknown command ", static_cast<int64_t>(received->command)));
    }
    // Rank 0 ran the same call on the same state and answers its caller; this rank only logs.
    if (!status.ok()) {
      std::fprintf(stderr, "plumb-learner rank %d: %s\n", world->rank(), status.ToString().c_str());
    }
  }
}

}  // namespace plumb::learner
