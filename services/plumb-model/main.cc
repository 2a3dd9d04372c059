// plumb-model: create, inspect, tokenize with and sample from model folders. See cli.h.
#include <iostream>

#include "common/service/malloc_tuning.h"
#include "services/plumb-model/cli.h"

int main(int argc, char** argv) {
  plumb::service::TuneMallocForLargeBuffers();  // reuse freed activations (malloc_tuning.h)
  return plumb::model_tool::RunPlumbModel(argc, argv, std::cin, std::cout, std::cerr);
}
