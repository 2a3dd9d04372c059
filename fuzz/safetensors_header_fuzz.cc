// A safetensors header: the first 8 bytes give the data buffer's size (as the file's length
// would), the rest is the JSON header.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/checkpoint/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t data_bytes = 0;
  if (size >= sizeof(data_bytes)) {
    std::memcpy(&data_bytes, data, sizeof(data_bytes));
    data += sizeof(data_bytes);
    size -= sizeof(data_bytes);
  }
  const std::string header(reinterpret_cast<const char*>(data), size);
  (void)plumb::checkpoint::ParseSafetensorsHeader(header, data_bytes, "model.safetensors");
  return 0;
}
