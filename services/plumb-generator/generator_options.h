// The `generator:` section of plumb-generator's YAML (configs/services/generator.example.yaml).
//
// Thread safety: start-up only.
#ifndef PLUMB_SERVICES_PLUMB_GENERATOR_GENERATOR_OPTIONS_H_
#define PLUMB_SERVICES_PLUMB_GENERATOR_GENERATOR_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/config/config_map.h"
#include "services/plumb-generator/generator_core.h"

namespace plumb::generator {

struct GeneratorOptions {
  std::string model_path;  // a Hugging Face model folder; required
  std::string dtype = "float32";
  std::string device = "cpu";
  std::string tokenizer;  // LoadTokenizer's argument; "" = the model folder's; "none" = no text
  uint64_t initial_version = 0;
  int threads = 0;
  GeneratorLimits limits;
};

// Reads `generator:` from the root; relative paths are resolved against `base_dir`.
absl::Status ParseGeneratorSection(config::ConfigMap& root, const std::string& base_dir,
                                   GeneratorOptions* options);

}  // namespace plumb::generator

#endif  // PLUMB_SERVICES_PLUMB_GENERATOR_GENERATOR_OPTIONS_H_
