#include "common/checkpoint/safetensors_writer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <bit>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/file_io.h"
#include "common/checkpoint/safetensors_dtype.h"
#include "common/status/status_macros.h"

namespace plumb::checkpoint {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; add byte swapping for this platform");

namespace {

struct PlacedTensor {
  const std::string* name;
  at::Tensor data;  // contiguous CPU
  const SafetensorsDType* dtype;
  uint64_t begin = 0;
  uint64_t end = 0;
};

absl::StatusOr<std::vector<PlacedTensor>> Place(const TensorMap& tensors) {
  std::vector<PlacedTensor> placed;
  placed.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    at::Tensor data;
    // Kept apart from the model boundary: names the tensor that cannot be copied.
    try {
      data = tensor.to(at::kCPU).contiguous();
    } catch (const std::exception& e) {
      return absl::InternalError(
          absl::StrCat("tensor '", name, "': cannot copy to contiguous CPU memory: ", e.what()));
    }
    placed.push_back({&name, std::move(data), SafetensorsDTypeFor(tensor.scalar_type())});
  }
  std::sort(placed.begin(), placed.end(), [](const PlacedTensor& a, const PlacedTensor& b) {
    return std::make_tuple(-static_cast<int64_t>(a.dtype->element_size), *a.name) <
           std::make_tuple(-static_cast<int64_t>(b.dtype->element_size), *b.name);
  });
  uint64_t offset = 0;
  for (PlacedTensor& tensor : placed) {
    tensor.begin = offset;
    offset += TensorBytes(tensor.data);
    tensor.end = offset;
  }
  return placed;
}

// The JSON header padded with spaces so that 8 + its length is a multiple of 8.
std::string Header(const std::vector<PlacedTensor>& placed, const SafetensorsMetadata& metadata) {
  nlohmann::json header = nlohmann::json::object();  // std::map inside: keys come out sorted
  if (!metadata.empty()) header["__metadata__"] = metadata;
  for (const PlacedTensor& tensor : placed) {
    header[*tensor.name] = {{"dtype", tensor.dtype->name},
                            {"shape", tensor.data.sizes().vec()},
                            {"data_offsets", {tensor.begin, tensor.end}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace

uint64_t TensorBytes(const at::Tensor& tensor) {
  return static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
}

absl::Status CheckStorable(const TensorMap& tensors) {
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__") {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor name '", name, "' is reserved in safetensors files"));
    }
    if (!tensor.defined()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' is undefined"));
    }
    if (tensor.layout() != at::kStrided) {
      std::ostringstream layout;
      layout << tensor.layout();
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name, "' has layout ", layout.str(),
                       "; only dense (strided) tensors can be stored"));
    }
    if (SafetensorsDTypeFor(tensor.scalar_type()) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", name, "' has dtype ", c10::toString(tensor.scalar_type()),
          ", which safetensors cannot store; supported: float32, bfloat16, float16, float64, "
          "int64, int32, int16, int8, uint8, bool"));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteSafetensors(const std::filesystem::path& path, const TensorMap& tensors,
                              const SafetensorsMetadata& metadata) {
  RETURN_IF_ERROR(Annotate(CheckStorable(tensors), path.string()));
  absl::StatusOr<std::vector<PlacedTensor>> placed_or = Place(tensors);
  RETURN_IF_ERROR(Annotate(placed_or.status(), path.string()));
  const std::vector<PlacedTensor>& placed = *placed_or;
  const std::string header = Header(placed, metadata);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(header.size() >> (8 * i));
  return WriteFileAtomically(path, [&](const AppendBytes& append) -> absl::Status {
    RETURN_IF_ERROR(append(length, sizeof(length)));
    RETURN_IF_ERROR(append(header.data(), header.size()));
    for (const PlacedTensor& tensor : placed) {
      RETURN_IF_ERROR(append(tensor.data.data_ptr(), tensor.end - tensor.begin));
    }
    return absl::OkStatus();
  });
}

}  // namespace plumb::checkpoint
