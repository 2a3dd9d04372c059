// Reads safetensors files into owned CPU tensors.
//
// Every tensor is copied (pread) into memory LibTorch allocates, rather than mapping the file:
// the tensors outlive the file (it may be replaced or deleted), are writable and aligned, and a
// file truncated by someone else while loading yields DATA_LOSS instead of SIGBUS. Cost: one copy
// from the page cache, which loading into parameters needs anyway.
//
// All-or-nothing: the whole header is validated (see safetensors_header.h) before any data is
// read, and a failure at any point returns only a Status. Errors: NOT_FOUND / PERMISSION_DENIED
// from the file system, INVALID_ARGUMENT for a path that is not a regular file, DATA_LOSS for a
// file that is not valid safetensors (truncated, absurd header length, bad header), UNIMPLEMENTED
// for dtypes LibTorch lacks, RESOURCE_EXHAUSTED when a tensor cannot be allocated. Messages start
// with the path and name the tensor when one is at fault.
//
// Thread safety: reentrant; concurrent reads of one file are fine.
#ifndef PLUMB_COMMON_CHECKPOINT_SAFETENSORS_READER_H_
#define PLUMB_COMMON_CHECKPOINT_SAFETENSORS_READER_H_

#include <cstdint>
#include <filesystem>

#include "absl/status/statusor.h"
#include "common/checkpoint/safetensors_header.h"
#include "common/checkpoint/tensor_map.h"

namespace plumb::checkpoint {

struct SafetensorsReadOptions {
  // A header length above this is refused before anything is allocated.
  uint64_t max_header_bytes = kMaxSafetensorsHeaderBytes;
};

struct SafetensorsContents {
  SafetensorsMetadata metadata;
  TensorMap tensors;  // contiguous CPU tensors of the file's dtypes and shapes
};

// The validated header only (names, dtypes, shapes, offsets); reads no tensor data.
absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const std::filesystem::path& path,
                                                        const SafetensorsReadOptions& options = {});

absl::StatusOr<SafetensorsContents> ReadSafetensors(const std::filesystem::path& path,
                                                    const SafetensorsReadOptions& options = {});

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_SAFETENSORS_READER_H_
