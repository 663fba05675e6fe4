//===- ThreadPool.cpp - persistent workers for the CPU backend ------------===//

#include "runtime/src/cpu/ThreadPool.h"

namespace llmc::runtime::cpu {

ThreadPool::ThreadPool(int numThreads) {
  try {
    for (int i = 1; i < numThreads; ++i)
      workers_.emplace_back([this, i] { workerLoop(i); });
  } catch (...) {
    // Join the threads already started before reporting the failure.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    start_.notify_all();
    for (std::thread &t : workers_)
      t.join();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  start_.notify_all();
  for (std::thread &t : workers_)
    t.join();
}

void ThreadPool::runRange(int thread) {
  int64_t threads = size();
  int64_t chunk = (n_ + threads - 1) / threads;
  int64_t begin = chunk * thread;
  int64_t end = begin + chunk < n_ ? begin + chunk : n_;
  if (begin < end)
    fn_(ctx_, begin, end, thread);
}

void ThreadPool::run(int64_t n, void *ctx, Trampoline fn) {
  if (n <= 0)
    return;
  // Small loops and single-threaded pools run inline: waking a worker costs
  // more than a few iterations.
  if (workers_.empty() || n == 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ctx_ = ctx;
    fn_ = fn;
    n_ = n;
    pending_ = int(workers_.size());
    ++generation_;
  }
  start_.notify_all();
  runRange(0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return pending_ == 0; });
}

void ThreadPool::workerLoop(int thread) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_)
        return;
      seen = generation_;
    }
    runRange(thread);
    std::lock_guard<std::mutex> lock(mutex_);
    if (--pending_ == 0)
      done_.notify_one();
  }
}

} // namespace llmc::runtime::cpu
