#include "common/tensor/tensor_codec.h"

#include <ATen/ATen.h>

#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb::tensor {

static_assert(std::endian::native == std::endian::little,
              "the wire format is little-endian; add byte swapping for this platform");

namespace {

std::string ShapeString(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

std::string DescribeChunk(const v1::TensorChunk& chunk) {
  return chunk.name().empty() ? std::string("tensor") : absl::StrCat("tensor '", chunk.name(), "'");
}

// numel × element size of a wire shape, or an error for negative dims and overflow.
absl::StatusOr<uint64_t> ByteSize(const v1::TensorChunk& chunk, size_t element_size) {
  uint64_t total = element_size;
  for (int64_t dim : chunk.shape()) {
    if (dim < 0) {
      return absl::InvalidArgumentError(absl::StrCat(DescribeChunk(chunk), ": shape ",
                                                     ShapeString(chunk.shape()),
                                                     " has a negative dimension"));
    }
    if (__builtin_mul_overflow(total, static_cast<uint64_t>(dim), &total)) {
      return absl::InvalidArgumentError(absl::StrCat(DescribeChunk(chunk), ": shape ",
                                                     ShapeString(chunk.shape()),
                                                     " is too large to address"));
    }
  }
  return total;
}

}  // namespace

absl::StatusOr<v1::DType> ToWireDType(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float:
      return v1::DTYPE_FLOAT32;
    case c10::ScalarType::BFloat16:
      return v1::DTYPE_BFLOAT16;
    case c10::ScalarType::Half:
      return v1::DTYPE_FLOAT16;
    case c10::ScalarType::Long:
      return v1::DTYPE_INT64;
    case c10::ScalarType::Int:
      return v1::DTYPE_INT32;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dtype ", c10::toString(type),
                       " cannot be sent; supported: float32, bfloat16, float16, int64, int32"));
  }
}

absl::StatusOr<c10::ScalarType> FromWireDType(v1::DType dtype) {
  switch (dtype) {
    case v1::DTYPE_FLOAT32:
      return c10::ScalarType::Float;
    case v1::DTYPE_BFLOAT16:
      return c10::ScalarType::BFloat16;
    case v1::DTYPE_FLOAT16:
      return c10::ScalarType::Half;
    case v1::DTYPE_INT64:
      return c10::ScalarType::Long;
    case v1::DTYPE_INT32:
      return c10::ScalarType::Int;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown dtype ", static_cast<int>(dtype),
          "; expected DTYPE_FLOAT32, DTYPE_BFLOAT16, DTYPE_FLOAT16, DTYPE_INT64 or DTYPE_INT32"));
  }
}

size_t WireElementSize(v1::DType dtype) {
  switch (dtype) {
    case v1::DTYPE_FLOAT32:
    case v1::DTYPE_INT32:
      return 4;
    case v1::DTYPE_BFLOAT16:
    case v1::DTYPE_FLOAT16:
      return 2;
    case v1::DTYPE_INT64:
      return 8;
    default:
      return 0;
  }
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

struct TensorAssembler::Pending {
  v1::TensorChunk header;  // the first chunk without its data
  at::Tensor tensor;
  uint64_t received = 0;
};

TensorAssembler::TensorAssembler(AssemblerOptions options) : options_(options) {}
TensorAssembler::~TensorAssembler() = default;

void TensorAssembler::Reset() { pending_.reset(); }

absl::Status TensorAssembler::Start(const v1::TensorChunk& chunk) {
  const std::string what = DescribeChunk(chunk);
  absl::StatusOr<c10::ScalarType> type = FromWireDType(chunk.dtype());
  if (!type.ok())
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", type.status().message()));
  absl::StatusOr<uint64_t> expected = ByteSize(chunk, WireElementSize(chunk.dtype()));
  if (!expected.ok()) return expected.status();
  if (chunk.total_bytes() != *expected) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": total_bytes ", chunk.total_bytes(), " does not match shape ",
                     ShapeString(chunk.shape()), " of ", v1::DType_Name(chunk.dtype()), " (",
                     *expected, " bytes)"));
  }
  if (chunk.total_bytes() > options_.max_tensor_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", chunk.total_bytes(),
                                                   " bytes exceeds the limit of ",
                                                   options_.max_tensor_bytes, " bytes"));
  }
  if (chunk.offset() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": first chunk starts at byte ",
                                                   chunk.offset(),
                                                   "; chunks must arrive in order "
                                                   "starting at offset 0"));
  }
  auto pending = std::make_unique<Pending>();
  pending->header = chunk;
  pending->header.clear_data();
  std::vector<int64_t> shape(chunk.shape().begin(), chunk.shape().end());
  if (options_.destination) {
    absl::StatusOr<at::Tensor> destination = options_.destination(chunk.name(), *type, shape);
    if (!destination.ok()) return destination.status();
    if (!destination->defined() || !destination->device().is_cpu() ||
        !destination->is_contiguous() || destination->scalar_type() != *type ||
        destination->sizes() != at::IntArrayRef(shape)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the receiver's destination tensor does not match ",
                       v1::DType_Name(chunk.dtype()), " ", ShapeString(chunk.shape())));
    }
    pending->tensor = *std::move(destination);
  } else {
    pending->tensor = at::empty(shape, at::TensorOptions().dtype(*type));
  }
  pending_ = std::move(pending);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<NamedTensor>> TensorAssembler::Add(const v1::TensorChunk& chunk) {
  if (pending_ == nullptr) {
    if (absl::Status status = Start(chunk); !status.ok()) return status;
  }
  Pending& p = *pending_;
  const v1::TensorChunk& h = p.header;
  const std::string what = DescribeChunk(h);
  auto fail = [this](absl::Status status) {
    Reset();
    return status;
  };
  if (chunk.name() != h.name() || chunk.dtype() != h.dtype() ||
      chunk.total_bytes() != h.total_bytes() ||
      !std::equal(chunk.shape().begin(), chunk.shape().end(), h.shape().begin(), h.shape().end())) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        what, ": a chunk arrived for '", chunk.name(), "' ", v1::DType_Name(chunk.dtype()), " ",
        ShapeString(chunk.shape()), " before the ", h.total_bytes() - p.received,
        " remaining bytes of ", v1::DType_Name(h.dtype()), " ", ShapeString(h.shape()),
        "; chunks of one tensor must agree and must not interleave with another tensor")));
  }
  if (chunk.offset() != p.received) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat(what, ": chunk at byte ", chunk.offset(), " arrived when byte ", p.received,
                     " was expected; chunks must arrive in order")));
  }
  if (chunk.data().size() > h.total_bytes() - p.received) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat(what, ": chunk of ", chunk.data().size(), " bytes at byte ", chunk.offset(),
                     " runs past the end of the tensor (", h.total_bytes(), " bytes)")));
  }
  if (chunk.data().empty() && h.total_bytes() > 0) {
    return fail(
        absl::InvalidArgumentError(absl::StrCat(what, ": empty chunk at byte ", chunk.offset())));
  }
  const uint64_t actual = Checksum(chunk.data().data(), chunk.data().size());
  if (actual != chunk.checksum()) {
    return fail(absl::DataLossError(absl::StrCat(
        what, ": checksum mismatch in the chunk at byte ", chunk.offset(), " (",
        chunk.data().size(), " bytes; expected ", absl::Hex(chunk.checksum(), absl::kZeroPad16),
        ", got ", absl::Hex(actual, absl::kZeroPad16), "): the data was corrupted in transit")));
  }
  std::memcpy(static_cast<char*>(p.tensor.data_ptr()) + p.received, chunk.data().data(),
              chunk.data().size());
  p.received += chunk.data().size();
  if (p.received < h.total_bytes()) return std::optional<NamedTensor>();
  NamedTensor done{h.name(), std::move(p.tensor)};
  Reset();
  return std::optional<NamedTensor>(std::move(done));
}

absl::Status TensorAssembler::Finish() const {
  if (pending_ == nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(DescribeChunk(pending_->header),
                                                 ": stream ended after ", pending_->received,
                                                 " of ", pending_->header.total_bytes(), " bytes"));
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
  v1::TensorChunk header;
  header.set_dtype(proto.dtype());
  *header.mutable_shape() = proto.shape();
  absl::StatusOr<uint64_t> expected = ByteSize(header, WireElementSize(proto.dtype()));
  if (!expected.ok()) return expected.status();
  if (proto.data().size() != *expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor of shape ", ShapeString(proto.shape()), " and ", v1::DType_Name(proto.dtype()),
        " needs ", *expected, " bytes but carries ", proto.data().size()));
  }
  std::vector<int64_t> shape(proto.shape().begin(), proto.shape().end());
  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(*type));
  std::memcpy(tensor.data_ptr(), proto.data().data(), proto.data().size());
  return tensor;
}

}  // namespace plumb::tensor
