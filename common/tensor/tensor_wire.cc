#include "common/tensor/tensor_wire.h"

#include <ATen/ATen.h>
#include <grpc/slice.h>
#include <grpcpp/support/slice.h>

#include "absl/strings/str_cat.h"

namespace plumb::tensor {
namespace {

// Protobuf wire bytes of field 7 (`data`, length-delimited): tag then varint length.
std::string DataFieldPrefix(uint64_t length) {
  std::string out(1, static_cast<char>((7 << 3) | 2));
  while (length >= 0x80) {
    out.push_back(static_cast<char>((length & 0x7f) | 0x80));
    length >>= 7;
  }
  out.push_back(static_cast<char>(length));
  return out;
}

void ReleaseTensor(void* tensor) { delete static_cast<at::Tensor*>(tensor); }

}  // namespace

absl::Status EncodeTensorToWire(const std::string& name, const at::Tensor& tensor,
                                const std::function<bool(const grpc::ByteBuffer&)>& sink,
                                size_t chunk_bytes) {
  if (!tensor.defined()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' is undefined"));
  }
  absl::StatusOr<v1::DType> dtype = ToWireDType(tensor.scalar_type());
  if (!dtype.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", dtype.status().message()));
  }
  if (chunk_bytes == 0) return absl::InvalidArgumentError("chunk_bytes must be positive");
  const at::Tensor cpu =
      tensor.device().is_cpu() ? tensor.contiguous() : tensor.to(at::kCPU).contiguous();
  const auto* bytes = static_cast<const char*>(cpu.data_ptr());
  const uint64_t total = static_cast<uint64_t>(cpu.numel()) * cpu.element_size();

  v1::TensorChunk header;
  header.set_name(name);
  header.set_dtype(*dtype);
  for (int64_t dim : cpu.sizes()) header.add_shape(dim);
  header.set_total_bytes(total);
  uint64_t offset = 0;
  do {
    const uint64_t n = std::min<uint64_t>(chunk_bytes, total - offset);
    header.set_offset(offset);
    header.set_checksum(Checksum(bytes + offset, n));
    std::string head = header.SerializeAsString() + DataFieldPrefix(n);
    grpc::Slice slices[2] = {
        grpc::Slice(head),
        grpc::Slice(grpc_slice_new_with_user_data(const_cast<char*>(bytes + offset), n,
                                                  ReleaseTensor, new at::Tensor(cpu)),
                    grpc::Slice::STEAL_REF)};
    const grpc::ByteBuffer message(slices, n > 0 ? 2 : 1);
    if (!sink(message)) {
      return absl::CancelledError(
          absl::StrCat("sending tensor '", name, "' stopped at byte ", offset, " of ", total));
    }
    offset += n;
  } while (offset < total);
  return absl::OkStatus();
}

}  // namespace plumb::tensor
