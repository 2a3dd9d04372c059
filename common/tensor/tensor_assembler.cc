#include "common/tensor/tensor_assembler.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb::tensor {

static_assert(std::endian::native == std::endian::little,
              "the wire format is little-endian; add byte swapping for this platform");

namespace {

std::string Describe(absl::string_view name) {
  return name.empty() ? std::string("tensor") : absl::StrCat("tensor '", name, "'");
}

}  // namespace

absl::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kUnspecified:
      return "DTYPE_UNSPECIFIED";
    case DType::kFloat32:
      return "DTYPE_FLOAT32";
    case DType::kBFloat16:
      return "DTYPE_BFLOAT16";
    case DType::kFloat16:
      return "DTYPE_FLOAT16";
    case DType::kInt64:
      return "DTYPE_INT64";
    case DType::kInt32:
      return "DTYPE_INT32";
  }
  return "";
}

absl::StatusOr<DType> ToDType(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float:
      return DType::kFloat32;
    case c10::ScalarType::BFloat16:
      return DType::kBFloat16;
    case c10::ScalarType::Half:
      return DType::kFloat16;
    case c10::ScalarType::Long:
      return DType::kInt64;
    case c10::ScalarType::Int:
      return DType::kInt32;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dtype ", c10::toString(type),
                       " cannot be sent; supported: float32, bfloat16, float16, int64, int32"));
  }
}

absl::StatusOr<c10::ScalarType> ToScalarType(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return c10::ScalarType::Float;
    case DType::kBFloat16:
      return c10::ScalarType::BFloat16;
    case DType::kFloat16:
      return c10::ScalarType::Half;
    case DType::kInt64:
      return c10::ScalarType::Long;
    case DType::kInt32:
      return c10::ScalarType::Int;
    case DType::kUnspecified:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dtype ", static_cast<int>(dtype),
      "; expected DTYPE_FLOAT32, DTYPE_BFLOAT16, DTYPE_FLOAT16, DTYPE_INT64 or DTYPE_INT32"));
}

size_t ElementSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kBFloat16:
    case DType::kFloat16:
      return 2;
    case DType::kInt64:
      return 8;
    case DType::kUnspecified:
      break;
  }
  return 0;
}

std::string ShapeString(absl::Span<const int64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::StatusOr<uint64_t> TensorByteSize(absl::string_view name, absl::Span<const int64_t> shape,
                                        size_t element_size) {
  uint64_t total = element_size;
  for (int64_t dim : shape) {
    if (dim < 0) {
      return absl::InvalidArgumentError(absl::StrCat(Describe(name), ": shape ", ShapeString(shape),
                                                     " has a negative dimension"));
    }
    if (__builtin_mul_overflow(total, static_cast<uint64_t>(dim), &total)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Describe(name), ": shape ", ShapeString(shape), " is too large to address"));
    }
  }
  return total;
}

struct TensorAssembler::Pending {
  std::string name;
  DType dtype = DType::kUnspecified;
  std::vector<int64_t> shape;
  uint64_t total_bytes = 0;
  at::Tensor tensor;
  uint64_t received = 0;
};

TensorAssembler::TensorAssembler(AssemblerOptions options) : options_(std::move(options)) {}
TensorAssembler::~TensorAssembler() = default;

void TensorAssembler::Reset() { pending_.reset(); }

absl::Status TensorAssembler::Start(const TensorChunkView& chunk) {
  const std::string what = Describe(chunk.name);
  absl::StatusOr<c10::ScalarType> type = ToScalarType(chunk.dtype);
  if (!type.ok())
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", type.status().message()));
  absl::StatusOr<uint64_t> expected =
      TensorByteSize(chunk.name, chunk.shape, ElementSize(chunk.dtype));
  if (!expected.ok()) return expected.status();
  if (chunk.total_bytes != *expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": total_bytes ", chunk.total_bytes, " does not match shape ",
        ShapeString(chunk.shape), " of ", DTypeName(chunk.dtype), " (", *expected, " bytes)"));
  }
  if (chunk.total_bytes > options_.max_tensor_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", chunk.total_bytes,
                                                   " bytes exceeds the limit of ",
                                                   options_.max_tensor_bytes, " bytes"));
  }
  if (chunk.offset != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": first chunk starts at byte ",
                                                   chunk.offset,
                                                   "; chunks must arrive in order "
                                                   "starting at offset 0"));
  }
  auto pending = std::make_unique<Pending>();
  pending->name = std::string(chunk.name);
  pending->dtype = chunk.dtype;
  pending->shape.assign(chunk.shape.begin(), chunk.shape.end());
  pending->total_bytes = chunk.total_bytes;
  const std::vector<int64_t>& shape = pending->shape;
  if (options_.destination) {
    absl::StatusOr<at::Tensor> destination = options_.destination(pending->name, *type, shape);
    if (!destination.ok()) return destination.status();
    if (!destination->defined() || !destination->device().is_cpu() ||
        !destination->is_contiguous() || destination->scalar_type() != *type ||
        destination->sizes() != at::IntArrayRef(shape)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the receiver's destination tensor does not match ",
                       DTypeName(chunk.dtype), " ", ShapeString(chunk.shape)));
    }
    pending->tensor = *std::move(destination);
  } else {
    pending->tensor = at::empty(shape, at::TensorOptions().dtype(*type));
  }
  pending_ = std::move(pending);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<NamedTensor>> TensorAssembler::Add(const TensorChunkView& chunk) {
  if (pending_ == nullptr) {
    if (absl::Status status = Start(chunk); !status.ok()) return status;
  }
  Pending& p = *pending_;
  const std::string what = Describe(p.name);
  auto fail = [this](absl::Status status) {
    Reset();
    return status;
  };
  if (chunk.name != p.name || chunk.dtype != p.dtype || chunk.total_bytes != p.total_bytes ||
      !std::equal(chunk.shape.begin(), chunk.shape.end(), p.shape.begin(), p.shape.end())) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        what, ": a chunk arrived for '", chunk.name, "' ", DTypeName(chunk.dtype), " ",
        ShapeString(chunk.shape), " before the ", p.total_bytes - p.received,
        " remaining bytes of ", DTypeName(p.dtype), " ", ShapeString(p.shape),
        "; chunks of one tensor must agree and must not interleave with another tensor")));
  }
  if (chunk.offset != p.received) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat(what, ": chunk at byte ", chunk.offset, " arrived when byte ", p.received,
                     " was expected; chunks must arrive in order")));
  }
  if (chunk.data.size() > p.total_bytes - p.received) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat(what, ": chunk of ", chunk.data.size(), " bytes at byte ", chunk.offset,
                     " runs past the end of the tensor (", p.total_bytes, " bytes)")));
  }
  if (chunk.data.empty() && p.total_bytes > 0) {
    return fail(
        absl::InvalidArgumentError(absl::StrCat(what, ": empty chunk at byte ", chunk.offset)));
  }
  const uint64_t actual = Checksum(chunk.data.data(), chunk.data.size());
  if (actual != chunk.checksum) {
    return fail(absl::DataLossError(absl::StrCat(
        what, ": checksum mismatch in the chunk at byte ", chunk.offset, " (", chunk.data.size(),
        " bytes; expected ", absl::Hex(chunk.checksum, absl::kZeroPad16), ", got ",
        absl::Hex(actual, absl::kZeroPad16), "): the data was corrupted in transit")));
  }
  std::memcpy(static_cast<char*>(p.tensor.data_ptr()) + p.received, chunk.data.data(),
              chunk.data.size());
  p.received += chunk.data.size();
  if (p.received < p.total_bytes) return std::optional<NamedTensor>();
  NamedTensor done{std::move(p.name), std::move(p.tensor)};
  Reset();
  return std::optional<NamedTensor>(std::move(done));
}

absl::Status TensorAssembler::Finish() const {
  if (pending_ == nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(Describe(pending_->name), ": stream ended after ",
                                                 pending_->received, " of ", pending_->total_bytes,
                                                 " bytes"));
}

}  // namespace plumb::tensor
