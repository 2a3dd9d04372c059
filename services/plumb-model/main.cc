// plumb-model: create, inspect, tokenize with and sample from model folders. See cli.h.
#include <iostream>

#include "common/model/host_memory.h"
#include "services/plumb-model/cli.h"

int main(int argc, char** argv) {
  plumb::model::KeepFreedHostMemory();  // reuse freed activations (host_memory.h)
  return plumb::model_tool::RunPlumbModel(argc, argv, std::cin, std::cout, std::cerr);
}
