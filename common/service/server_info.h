// What a service says about its server in every GetInfo (plumb.v1.ServerInfo): build version,
// the endpoint it serves, when it started, the message-size limit it enforces, and the worker id
// the coordinator gave it (empty until a coordinator registers it). ServiceHost records the
// serving facts once it listens; every adapter fills ServerInfo from here.
//
// Thread safety: any thread.
#ifndef PLUMB_COMMON_SERVICE_SERVER_INFO_H_
#define PLUMB_COMMON_SERVICE_SERVER_INFO_H_

#include <cstdint>
#include <string>

#include "plumb/v1/common.pb.h"

namespace plumb::service {

// Called by ServiceHost when the server listens (one server per process).
void RecordServing(const std::string& endpoint, int64_t max_message_bytes);
// "host:port" this process serves gRPC on ("" before RecordServing).
std::string ServingEndpoint();
void FillServerInfo(v1::ServerInfo* info);

}  // namespace plumb::service

#endif  // PLUMB_COMMON_SERVICE_SERVER_INFO_H_
