#include "common/tensor/tensor_codec.h"

#include <ATen/ATen.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb::tensor {

// The domain dtype mirrors the wire enum value for value.
static_assert(static_cast<int>(DType::kUnspecified) == v1::DTYPE_UNSPECIFIED);
static_assert(static_cast<int>(DType::kFloat32) == v1::DTYPE_FLOAT32);
static_assert(static_cast<int>(DType::kBFloat16) == v1::DTYPE_BFLOAT16);
static_assert(static_cast<int>(DType::kFloat16) == v1::DTYPE_FLOAT16);
static_assert(static_cast<int>(DType::kInt64) == v1::DTYPE_INT64);
static_assert(static_cast<int>(DType::kInt32) == v1::DTYPE_INT32);

DType FromWire(v1::DType dtype) { return static_cast<DType>(dtype); }
v1::DType ToWire(DType dtype) { return static_cast<v1::DType>(dtype); }

absl::StatusOr<v1::DType> ToWireDType(c10::ScalarType type) {
  absl::StatusOr<DType> dtype = ToDType(type);
  if (!dtype.ok()) return dtype.status();
  return ToWire(*dtype);
}

absl::StatusOr<c10::ScalarType> FromWireDType(v1::DType dtype) {
  return ToScalarType(FromWire(dtype));
}

size_t WireElementSize(v1::DType dtype) { return ElementSize(FromWire(dtype)); }

TensorChunkView ViewOf(const v1::TensorChunk& chunk) {
  return TensorChunkView{
      .name = chunk.name(),
      .dtype = FromWire(chunk.dtype()),
      .shape = absl::MakeConstSpan(chunk.shape().data(), chunk.shape().size()),
      .offset = chunk.offset(),
      .total_bytes = chunk.total_bytes(),
      .checksum = chunk.checksum(),
      .data = chunk.data(),
  };
}

absl::StatusOr<OutgoingTensor> PrepareOutgoingTensor(const std::string& name,
                                                     const at::Tensor& tensor, size_t chunk_bytes) {
  if (!tensor.defined()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' is undefined"));
  }
  absl::StatusOr<v1::DType> dtype = ToWireDType(tensor.scalar_type());
  if (!dtype.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", dtype.status().message()));
  }
  if (chunk_bytes == 0) return absl::InvalidArgumentError("chunk_bytes must be positive");
  OutgoingTensor out;
  out.cpu = tensor.device().is_cpu() ? tensor.contiguous() : tensor.to(at::kCPU).contiguous();
  out.total_bytes = static_cast<uint64_t>(out.cpu.numel()) * out.cpu.element_size();
  out.header.set_name(name);
  out.header.set_dtype(*dtype);
  for (int64_t dim : out.cpu.sizes()) out.header.add_shape(dim);
  out.header.set_total_bytes(out.total_bytes);
  return out;
}

absl::Status SendStopped(const std::string& name, uint64_t offset, uint64_t total) {
  return absl::CancelledError(
      absl::StrCat("sending tensor '", name, "' stopped at byte ", offset, " of ", total));
}

absl::Status EncodeTensor(const std::string& name, const at::Tensor& tensor,
                          const std::function<bool(const v1::TensorChunk&)>& sink,
                          size_t chunk_bytes) {
  absl::StatusOr<OutgoingTensor> out = PrepareOutgoingTensor(name, tensor, chunk_bytes);
  if (!out.ok()) return out.status();
  v1::TensorChunk& chunk = out->header;
  uint64_t offset = 0;
  do {
    const uint64_t n = std::min<uint64_t>(chunk_bytes, out->total_bytes - offset);
    chunk.set_offset(offset);
    chunk.set_data(out->bytes() + offset, n);
    chunk.set_checksum(Checksum(chunk.data().data(), n));  // hashes the copy while it is hot
    if (!sink(chunk)) return SendStopped(name, offset, out->total_bytes);
    offset += n;
  } while (offset < out->total_bytes);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::TensorChunk>> EncodeTensorToChunks(const std::string& name,
                                                                  const at::Tensor& tensor,
                                                                  size_t chunk_bytes) {
  std::vector<v1::TensorChunk> chunks;
  absl::Status status = EncodeTensor(
      name, tensor,
      [&](const v1::TensorChunk& chunk) {
        chunks.push_back(chunk);
        return true;
      },
      chunk_bytes);
  if (!status.ok()) return status;
  return chunks;
}

absl::StatusOr<v1::Tensor> ToProto(const at::Tensor& tensor) {
  absl::StatusOr<v1::DType> dtype = ToWireDType(tensor.scalar_type());
  if (!dtype.ok()) return dtype.status();
  const at::Tensor cpu = tensor.to(at::kCPU).contiguous();
  v1::Tensor proto;
  proto.set_dtype(*dtype);
  for (int64_t dim : cpu.sizes()) proto.add_shape(dim);
  proto.set_data(cpu.data_ptr(), static_cast<size_t>(cpu.numel()) * cpu.element_size());
  return proto;
}

absl::StatusOr<at::Tensor> FromProto(const v1::Tensor& proto) {
  absl::StatusOr<c10::ScalarType> type = FromWireDType(proto.dtype());
  if (!type.ok()) return type.status();
  const absl::Span<const int64_t> shape_view =
      absl::MakeConstSpan(proto.shape().data(), proto.shape().size());
  absl::StatusOr<uint64_t> expected =
      TensorByteSize("", shape_view, WireElementSize(proto.dtype()));
  if (!expected.ok()) return expected.status();
  if (proto.data().size() != *expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor of shape ", ShapeString(shape_view), " and ", v1::DType_Name(proto.dtype()),
        " needs ", *expected, " bytes but carries ", proto.data().size()));
  }
  std::vector<int64_t> shape(proto.shape().begin(), proto.shape().end());
  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(*type));
  std::memcpy(tensor.data_ptr(), proto.data().data(), proto.data().size());
  return tensor;
}

}  // namespace plumb::tensor
