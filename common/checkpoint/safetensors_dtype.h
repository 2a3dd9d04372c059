// The dtype strings of the safetensors format and the LibTorch scalar types they map to.
//
// Known to the format: BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64 F8_E4M3 F8_E5M2.
// LibTorch 1.13 has no uint16/32/64 or float8 types: those are known but unsupported (the reader
// answers UNIMPLEMENTED rather than "unknown dtype").
//
// Thread safety: immutable tables; reentrant.
#ifndef PLUMB_COMMON_CHECKPOINT_SAFETENSORS_DTYPE_H_
#define PLUMB_COMMON_CHECKPOINT_SAFETENSORS_DTYPE_H_

#include <c10/core/ScalarType.h>

#include <cstddef>
#include <optional>

#include "absl/strings/string_view.h"

namespace plumb::checkpoint {

struct SafetensorsDType {
  absl::string_view name;                     // as written in the header, e.g. "BF16"
  size_t element_size;                        // bytes per element
  std::optional<c10::ScalarType> torch_type;  // nullopt: not representable in LibTorch 1.13
};

// nullptr when `name` is not a safetensors dtype.
const SafetensorsDType* FindSafetensorsDType(absl::string_view name);

// nullptr when `type` has no safetensors equivalent (complex, quantized, ...).
const SafetensorsDType* SafetensorsDTypeFor(c10::ScalarType type);

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_SAFETENSORS_DTYPE_H_
