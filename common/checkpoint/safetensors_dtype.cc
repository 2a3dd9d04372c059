#include "common/checkpoint/safetensors_dtype.h"

#include <array>

namespace plumb::checkpoint {
namespace {

constexpr std::array<SafetensorsDType, 15> kDTypes = {{
    {"BOOL", 1, c10::ScalarType::Bool},
    {"U8", 1, c10::ScalarType::Byte},
    {"I8", 1, c10::ScalarType::Char},
    {"I16", 2, c10::ScalarType::Short},
    {"U16", 2, std::nullopt},
    {"F16", 2, c10::ScalarType::Half},
    {"BF16", 2, c10::ScalarType::BFloat16},
    {"I32", 4, c10::ScalarType::Int},
    {"U32", 4, std::nullopt},
    {"F32", 4, c10::ScalarType::Float},
    {"F64", 8, c10::ScalarType::Double},
    {"I64", 8, c10::ScalarType::Long},
    {"U64", 8, std::nullopt},
    {"F8_E4M3", 1, std::nullopt},
    {"F8_E5M2", 1, std::nullopt},
}};

}  // namespace

const SafetensorsDType* FindSafetensorsDType(absl::string_view name) {
  for (const SafetensorsDType& dtype : kDTypes) {
    if (dtype.name == name) return &dtype;
  }
  return nullptr;
}

const SafetensorsDType* SafetensorsDTypeFor(c10::ScalarType type) {
  for (const SafetensorsDType& dtype : kDTypes) {
    if (dtype.torch_type == type) return &dtype;
  }
  return nullptr;
}

}  // namespace plumb::checkpoint
