// The small model the sampling tests share (sampler_test.cc, continuous_batch_test.cc): a
// 50-token vocabulary, 2 layers, grouped-query attention, 64 positions, fixed seed.
#ifndef PLUMB_COMMON_MODEL_SAMPLING_TEST_MODEL_H_
#define PLUMB_COMMON_MODEL_SAMPLING_TEST_MODEL_H_

#include <torch/torch.h>

#include "common/model/transformer.h"

namespace plumb::model {

inline ModelConfig SmallConfig() {
  ModelConfig config;
  config.vocab_size = 50;
  config.hidden_size = 32;
  config.intermediate_size = 64;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 64;
  return config;
}

inline Transformer MakeModel() {
  torch::manual_seed(3);
  Transformer model(SmallConfig());
  model->eval();
  return model;
}

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_SAMPLING_TEST_MODEL_H_
