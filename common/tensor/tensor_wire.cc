#include "common/tensor/tensor_wire.h"

#include <ATen/ATen.h>
#include <grpc/slice.h>
#include <grpcpp/support/slice.h>

#include "absl/strings/str_cat.h"

namespace plumb::tensor {
namespace {

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// Protobuf wire bytes that open a length-delimited field: tag then varint length.
std::string LengthDelimitedPrefix(int field, uint64_t length) {
  std::string out;
  AppendVarint((static_cast<uint64_t>(field) << 3) | 2, &out);
  AppendVarint(length, &out);
  return out;
}

constexpr int kDataField = 7;  // TensorChunk.data

void ReleaseTensor(void* tensor) { delete static_cast<at::Tensor*>(tensor); }

}  // namespace

absl::Status EncodeTensorToWire(const std::string& name, const at::Tensor& tensor,
                                const std::function<bool(const grpc::ByteBuffer&)>& sink,
                                size_t chunk_bytes) {
  return EncodeTensorToWire(name, tensor, WireEnvelope{}, sink, chunk_bytes);
}

absl::Status EncodeTensorToWire(const std::string& name, const at::Tensor& tensor,
                                const WireEnvelope& envelope,
                                const std::function<bool(const grpc::ByteBuffer&)>& sink,
                                size_t chunk_bytes) {
  absl::StatusOr<OutgoingTensor> out = PrepareOutgoingTensor(name, tensor, chunk_bytes);
  if (!out.ok()) return out.status();
  v1::TensorChunk& header = out->header;
  const at::Tensor& cpu = out->cpu;
  const char* bytes = out->bytes();
  const uint64_t total = out->total_bytes;
  uint64_t offset = 0;
  do {
    const uint64_t n = std::min<uint64_t>(chunk_bytes, total - offset);
    header.set_offset(offset);
    header.set_checksum(Checksum(bytes + offset, n));
    std::string head = header.SerializeAsString() + LengthDelimitedPrefix(kDataField, n);
    if (envelope.tensor_field > 0) {
      head = envelope.fields + LengthDelimitedPrefix(envelope.tensor_field, head.size() + n) + head;
    }
    grpc::Slice slices[2] = {
        grpc::Slice(head),
        grpc::Slice(grpc_slice_new_with_user_data(const_cast<char*>(bytes + offset), n,
                                                  ReleaseTensor, new at::Tensor(cpu)),
                    grpc::Slice::STEAL_REF)};
    const grpc::ByteBuffer message(slices, n > 0 ? 2 : 1);
    if (!sink(message)) return SendStopped(name, offset, total);
    offset += n;
  } while (offset < total);
  return absl::OkStatus();
}

}  // namespace plumb::tensor
