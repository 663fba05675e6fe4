//===- ThreadPool.h - persistent workers for the CPU backend ----*- C++ -*-===//
//
// A fixed set of threads that split one loop at a time: parallelFor hands
// each thread (the caller included) one contiguous range and returns when all
// are done. No allocation per call; workers sleep on a condition variable
// between calls.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_CPU_THREADPOOL_H
#define LLMC_RUNTIME_SRC_CPU_THREADPOOL_H

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace llmc::runtime::cpu {

class ThreadPool {
public:
  /// `numThreads` >= 1 threads in all: the caller and numThreads - 1 workers.
  /// Throws std::system_error if a thread cannot be started.
  explicit ThreadPool(int numThreads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return int(workers_.size()) + 1; }

  /// Calls body(begin, end, thread) on disjoint ranges covering [0, n), at
  /// most one per thread (thread in [0, size())), and waits for all. `body`
  /// must not throw.
  template <typename Body> void parallelFor(int64_t n, Body &&body) {
    using Fn = std::remove_reference_t<Body>;
    run(n, &body, [](void *ctx, int64_t begin, int64_t end, int thread) {
      (*static_cast<Fn *>(ctx))(begin, end, thread);
    });
  }

private:
  using Trampoline = void (*)(void *, int64_t, int64_t, int);
  void run(int64_t n, void *ctx, Trampoline fn);
  void runRange(int thread);
  void workerLoop(int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  // The job of the current generation.
  void *ctx_ = nullptr;
  Trampoline fn_ = nullptr;
  int64_t n_ = 0;
};

} // namespace llmc::runtime::cpu

#endif // LLMC_RUNTIME_SRC_CPU_THREADPOOL_H
