// The `reference:` section of plumb-reference's YAML (configs/services/reference.example.yaml).
//
// Thread safety: start-up only.
#ifndef PLUMB_SERVICES_PLUMB_REFERENCE_REFERENCE_OPTIONS_H_
#define PLUMB_SERVICES_PLUMB_REFERENCE_REFERENCE_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/config/config_map.h"
#include "services/plumb-reference/reference_core.h"

namespace plumb::reference {

struct ReferenceOptions {
  std::string model_path;  // a Hugging Face model folder; required
  std::string dtype = "float32";
  std::string device = "cpu";
  // For items sent as text: "" = the model folder's tokenizer when it has one (else none), "none",
  // "byte", or a tokenizer.json / folder.
  std::string tokenizer;
  uint64_t initial_version = 0;  // the policy version the folder's weights are (0 = base)
  int threads = 0;               // LibTorch intra-op threads; 0 = LibTorch's default
  ReferenceLimits limits;
};

// Reads `reference:` from the root; relative paths are resolved against `base_dir`.
absl::Status ParseReferenceSection(config::ConfigMap& root, const std::string& base_dir,
                                   ReferenceOptions* options);

}  // namespace plumb::reference

#endif  // PLUMB_SERVICES_PLUMB_REFERENCE_REFERENCE_OPTIONS_H_
