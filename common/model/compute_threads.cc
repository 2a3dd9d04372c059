#include "common/model/compute_threads.h"

#include <ATen/Parallel.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace plumb::model {

void SetComputeThreads(int threads) {
  if (threads <= 0) return;
  const std::string want = std::to_string(threads);
  const char* have = std::getenv("OMP_NUM_THREADS");
  if (have == nullptr || want != have) {
    setenv("OMP_NUM_THREADS", want.c_str(), /*overwrite=*/1);
    // The OpenMP runtime read the old value when it was loaded: start again with the new one.
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    std::vector<std::string> args;
    for (size_t start = 0; start < cmdline.size();) {
      const size_t end = cmdline.find('\0', start);
      args.push_back(cmdline.substr(start, end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(nullptr);
    if (!args.empty()) execv("/proc/self/exe", argv.data());
    // execv failed: go on with the calling thread's count only.
  }
  at::set_num_threads(threads);
}

}  // namespace plumb::model
