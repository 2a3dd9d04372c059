// config.json text -> ModelConfig (and back, when it parses).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/checkpoint/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<plumb::model::ModelConfig> config =
      plumb::checkpoint::ParseHfConfig(text, "config.json");
  if (config.ok()) (void)plumb::checkpoint::FormatHfConfig(*config);
  return 0;
}
