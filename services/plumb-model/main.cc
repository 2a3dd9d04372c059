// plumb-model: create, inspect, tokenize with and sample from model folders. See cli.h.
#include <iostream>

#include "services/plumb-model/cli.h"

int main(int argc, char** argv) {
  return plumb::model_tool::RunPlumbModel(argc, argv, std::cin, std::cout, std::cerr);
}
