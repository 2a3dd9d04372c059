#include "common/checkpoint/safetensors_reader.h"

#include <ATen/ATen.h>
#include <fcntl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/file_io.h"
#include "common/status/status_macros.h"

namespace plumb::checkpoint {
namespace {

constexpr uint64_t kLengthPrefixBytes = 8;

uint64_t DecodeLittleEndian64(const unsigned char* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

absl::StatusOr<SafetensorsHeader> ReadHeader(const OpenedFile& file,
                                             const std::filesystem::path& path,
                                             const SafetensorsReadOptions& options) {
  const std::string source = path.string();
  if (file.size < kLengthPrefixBytes) {
    return absl::DataLossError(absl::StrCat(source, ": file is ", file.size,
                                            " bytes, too short for the 8-byte header length"));
  }
  unsigned char prefix[kLengthPrefixBytes];
  ASSIGN_OR_RETURN(size_t read, ReadAt(file.fd.get(), prefix, sizeof(prefix), 0, path));
  if (read != sizeof(prefix)) {
    return absl::DataLossError(absl::StrCat(source, ": file shrank while being read"));
  }
  const uint64_t header_bytes = DecodeLittleEndian64(prefix);
  if (header_bytes > options.max_header_bytes) {
    return absl::DataLossError(absl::StrCat(source, ": header length ", header_bytes,
                                            " exceeds the limit of ", options.max_header_bytes,
                                            " bytes (corrupt file?)"));
  }
  if (header_bytes > file.size - kLengthPrefixBytes) {
    return absl::DataLossError(absl::StrCat(source, ": header length ", header_bytes,
                                            " runs past the end of the file (", file.size,
                                            " bytes): the file is truncated"));
  }
  std::string json(static_cast<size_t>(header_bytes), '\0');
  ASSIGN_OR_RETURN(read, ReadAt(file.fd.get(), json.data(), json.size(), kLengthPrefixBytes, path));
  if (read != json.size()) {
    return absl::DataLossError(absl::StrCat(source, ": file shrank while being read"));
  }
  const uint64_t data_offset = kLengthPrefixBytes + header_bytes;
  ASSIGN_OR_RETURN(SafetensorsHeader header,
                   ParseSafetensorsHeader(json, file.size - data_offset, source));
  header.data_offset = data_offset;
  return header;
}

absl::StatusOr<at::Tensor> ReadTensor(const OpenedFile& file, const SafetensorsHeader& header,
                                      const SafetensorsEntry& entry,
                                      const std::filesystem::path& path) {
  at::Tensor tensor;
  // Kept apart from the model boundary: a file's tensor that cannot be allocated is named here.
  try {
    tensor = at::empty(entry.shape, at::TensorOptions().dtype(entry.scalar_type));
  } catch (const std::exception& e) {  // c10::Error or std::bad_alloc
    return absl::ResourceExhaustedError(absl::StrCat(path.string(), ": tensor '", entry.name,
                                                     "': cannot allocate ", entry.end - entry.begin,
                                                     " bytes: ", e.what()));
  }
  const size_t bytes = entry.end - entry.begin;
  if (bytes == 0) return tensor;
  ASSIGN_OR_RETURN(const size_t read, ReadAt(file.fd.get(), tensor.data_ptr(), bytes,
                                             header.data_offset + entry.begin, path));
  if (read != bytes) {
    return absl::DataLossError(
        absl::StrCat(path.string(), ": tensor '", entry.name, "': file shrank while being read"));
  }
  return tensor;
}

}  // namespace

absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const std::filesystem::path& path,
                                                        const SafetensorsReadOptions& options) {
  ASSIGN_OR_RETURN(const OpenedFile file, OpenRegularFile(path));
  return ReadHeader(file, path, options);
}

absl::StatusOr<SafetensorsContents> ReadSafetensors(const std::filesystem::path& path,
                                                    const SafetensorsReadOptions& options) {
  ASSIGN_OR_RETURN(const OpenedFile file, OpenRegularFile(path));
  ASSIGN_OR_RETURN(SafetensorsHeader header, ReadHeader(file, path, options));
  ::posix_fadvise(file.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  // In file order, so the reads are sequential.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const SafetensorsEntry& entry : header.entries) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->begin < b->begin; });
  SafetensorsContents contents;
  for (const SafetensorsEntry* entry : by_offset) {
    ASSIGN_OR_RETURN(at::Tensor tensor, ReadTensor(file, header, *entry, path));
    contents.tensors.emplace(entry->name, std::move(tensor));
  }
  contents.metadata = std::move(header.metadata);
  return contents;
}

}  // namespace plumb::checkpoint
