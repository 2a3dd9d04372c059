// model.safetensors.index.json text -> SafetensorsIndex.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/checkpoint/safetensors_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)plumb::checkpoint::ParseSafetensorsIndex(text, "model.safetensors.index.json");
  return 0;
}
