// Checks a loaded checkpoint against the parameters a model expects, and converts dtypes.
//
// Every problem is reported, one line each, naming the tensor:
//   checkpoint X: tensor 'model.norm.weight' is missing (config.json expects shape [128])
//   checkpoint X: tensor 'model.layers.0.self_attn.q_proj.weight' has shape [64, 128],
//       config.json says [128, 128]
//   checkpoint X: unexpected tensor 'extra.weight' with shape [3] (not a parameter config.json
//       implies)
//   checkpoint X: tensor 't' is int64 and cannot be converted to float32
// as one INVALID_ARGUMENT. Floating-point dtypes convert to one another (e.g. a BF16 checkpoint
// into float32 parameters); any other dtype must match exactly. All-or-nothing.
//
// Thread safety: reentrant.
#ifndef PLUMB_COMMON_CHECKPOINT_PARAMETER_CHECK_H_
#define PLUMB_COMMON_CHECKPOINT_PARAMETER_CHECK_H_

#include <c10/core/ScalarType.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/checkpoint/tensor_map.h"

namespace plumb::checkpoint {

struct ExpectedParameter {
  std::vector<int64_t> shape;
  c10::ScalarType dtype = c10::ScalarType::Float;  // what the loaded tensor is converted to
};
using ExpectedParameters = std::map<std::string, ExpectedParameter>;

struct ParameterCheckOptions {
  std::string checkpoint;                          // named in messages, e.g. its directory
  std::string expectation_source = "config.json";  // where the expected shapes come from
  // Checkpoint tensors to drop silently when they end with one of these (e.g.
  // "rotary_emb.inv_freq", a buffer some older Llama checkpoints carry).
  std::vector<std::string> ignored_suffixes;
  size_t max_reported_problems = 20;
};

// The expected tensors of `loaded`, each converted to its expected dtype (sharing memory when the
// dtype already matches); INVALID_ARGUMENT listing every problem otherwise.
absl::StatusOr<TensorMap> CheckAndConvertParameters(TensorMap loaded,
                                                    const ExpectedParameters& expected,
                                                    const ParameterCheckOptions& options);

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_PARAMETER_CHECK_H_
