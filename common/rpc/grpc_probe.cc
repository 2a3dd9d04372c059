#include "common/rpc/grpc_probe.h"

#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/sync_stream.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_status.h"

namespace plumb::rpc {
namespace {

// Hand-encoded messages: field numbers from grpc/health/v1/health.proto and
// grpc/reflection/v1alpha/reflection.proto.
constexpr char kHealthCheckMethod[] = "/grpc.health.v1.Health/Check";
constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

absl::StatusOr<std::string> FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return absl::DataLossError("unreadable response");
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

std::string LengthDelimited(int field, const std::string& value) {
  std::string out(1, static_cast<char>((field << 3) | 2));
  size_t n = value.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  return out + value;
}

}  // namespace

absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                          const std::string& service, absl::Duration deadline,
                                          const std::string& bearer_token) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  if (!bearer_token.empty()) context.AddMetadata("authorization", "Bearer " + bearer_token);
  const grpc::ByteBuffer request = ToByteBuffer(LengthDelimited(1, service));
  grpc::ByteBuffer response;
  grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel.get(),
      grpc::internal::RpcMethod(kHealthCheckMethod, grpc::internal::RpcMethod::NORMAL_RPC),
      &context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  absl::StatusOr<std::string> bytes = FromByteBuffer(response);
  if (!bytes.ok()) return bytes.status();
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromString(*bytes)) return absl::DataLossError("malformed HealthCheckResponse");
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField& field = fields.field(i);
    if (field.number() == 1 && field.type() == google::protobuf::UnknownField::TYPE_VARINT) {
      return static_cast<ServingStatus>(field.varint());
    }
  }
  return ServingStatus::kUnknown;
}

absl::Status WaitUntilServing(const std::shared_ptr<grpc::Channel>& channel,
                              absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  absl::Status last = absl::UnavailableError("not checked yet");
  while (absl::Now() < give_up) {
    absl::StatusOr<ServingStatus> status = CheckHealth(channel, "", absl::Seconds(1));
    if (status.ok() && *status == ServingStatus::kServing) return absl::OkStatus();
    last = status.ok() ? absl::UnavailableError("NOT_SERVING") : status.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "server not SERVING after ", absl::FormatDuration(timeout), ": ", last.message()));
}

absl::StatusOr<std::vector<std::string>> ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration deadline) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel.get(),
          grpc::internal::RpcMethod(kReflectionMethod, grpc::internal::RpcMethod::BIDI_STREAMING),
          &context));
  // ServerReflectionRequest{list_services (field 7) = ""}.
  stream->Write(ToByteBuffer(LengthDelimited(7, "")));
  stream->WritesDone();
  grpc::ByteBuffer response;
  std::vector<std::string> names;
  bool got_response = false;
  while (stream->Read(&response)) {
    got_response = true;
    absl::StatusOr<std::string> bytes = FromByteBuffer(response);
    if (!bytes.ok()) return bytes.status();
    google::protobuf::UnknownFieldSet top;
    if (!top.ParseFromString(*bytes)) return absl::DataLossError("malformed reflection response");
    for (int i = 0; i < top.field_count(); ++i) {
      if (top.field(i).number() != 6) continue;  // list_services_response
      google::protobuf::UnknownFieldSet list;
      list.ParseFromString(top.field(i).length_delimited());
      for (int j = 0; j < list.field_count(); ++j) {
        google::protobuf::UnknownFieldSet service;
        service.ParseFromString(list.field(j).length_delimited());
        for (int k = 0; k < service.field_count(); ++k) {
          if (service.field(k).number() == 1) names.push_back(service.field(k).length_delimited());
        }
      }
    }
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  if (!got_response) return absl::DataLossError("reflection stream closed without a response");
  return names;
}

}  // namespace plumb::rpc
