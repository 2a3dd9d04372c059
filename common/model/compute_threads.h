// The number of threads one LibTorch operator (and the BLAS under it) may use, for the whole
// process. at::set_num_threads alone sets OpenMP's count for the calling thread only: threads
// created later (a service's runner and gRPC threads) start with the count the OpenMP runtime
// read from OMP_NUM_THREADS when the library was loaded (every core when unset), and BLAS sizes
// its matrix products by it. That value is read once, at load time, so SetComputeThreads sets
// OMP_NUM_THREADS and re-executes the process (same pid, same arguments) when it differs.
//
// Thread safety: call once, early in main, before other threads start or sockets open.
#ifndef PLUMB_COMMON_MODEL_COMPUTE_THREADS_H_
#define PLUMB_COMMON_MODEL_COMPUTE_THREADS_H_

namespace plumb::model {

// `threads` > 0: that many threads per operator on every thread of the process (may not return:
// the process restarts itself with OMP_NUM_THREADS set); 0: leave the defaults.
void SetComputeThreads(int threads);

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_COMPUTE_THREADS_H_
