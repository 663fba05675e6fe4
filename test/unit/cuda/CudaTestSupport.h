//===- CudaTestSupport.h - driver selection and the fake H100 ---*- C++ -*-===//
//
// ScopedDriverPath points Driver::load at a fake (or at nothing) for one
// test; FakeGpu holds the fake H100 open and reaches its control functions
// (FakeCudaControl.h).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_CUDA_CUDATESTSUPPORT_H
#define LLMC_TEST_UNIT_CUDA_CUDATESTSUPPORT_H

#include "FakeCudaControl.h"

#include "runtime/src/cuda/Driver.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

namespace llmc::runtime::cuda::test {

/// Sets (or, for nullptr, unsets) LLMC_CUDA_DRIVER for one scope.
class ScopedDriverPath {
public:
  explicit ScopedDriverPath(const char *path) {
    if (const char *old = std::getenv(Driver::kPathVariable))
      old_ = old;
    if (path)
      setenv(Driver::kPathVariable, path, 1);
    else
      unsetenv(Driver::kPathVariable);
  }
  ~ScopedDriverPath() {
    if (old_)
      setenv(Driver::kPathVariable, old_->c_str(), 1);
    else
      unsetenv(Driver::kPathVariable);
  }
  ScopedDriverPath(const ScopedDriverPath &) = delete;
  ScopedDriverPath &operator=(const ScopedDriverPath &) = delete;

private:
  std::optional<std::string> old_;
};

/// The fake H100 driver, loaded (the runtime's dlopen of the same path shares
/// this instance and its state) and reset with `memoryBytes` of memory.
class FakeGpu {
public:
  explicit FakeGpu(uint64_t memoryBytes) {
    handle_ = dlopen(LLMC_FAKE_CUDA_H100_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!handle_)
      throw std::runtime_error(std::string("cannot load the fake driver: ") +
                               dlerror());
    reset_ = symbol<LLMCFakeCudaResetFn>("llmcFakeCudaReset");
    fail_ = symbol<LLMCFakeCudaFailFn>("llmcFakeCudaFail");
    counts_ = symbol<LLMCFakeCudaCountsFn>("llmcFakeCudaCounts");
    getLaunch_ = symbol<LLMCFakeCudaGetLaunchFn>("llmcFakeCudaGetLaunch");
    reset_(memoryBytes);
  }
  ~FakeGpu() {
    reset_(0);
    dlclose(handle_);
  }
  FakeGpu(const FakeGpu &) = delete;
  FakeGpu &operator=(const FakeGpu &) = delete;

  void reset(uint64_t memoryBytes) { reset_(memoryBytes); }
  /// Call `nth` (from now) of `api` returns `result`.
  void fail(const char *api, int nth, ::CUresult result) {
    fail_(api, nth, result);
  }
  LLMCFakeCudaCounts counts() const {
    LLMCFakeCudaCounts c;
    counts_(&c);
    return c;
  }
  /// Launch `index` of the log; fails the test if there is none.
  LLMCFakeCudaLaunch launch(int index) const {
    LLMCFakeCudaLaunch l{};
    EXPECT_TRUE(getLaunch_(index, &l)) << "no launch " << index;
    return l;
  }

  /// Nothing acquired is still held.
  void expectAllReleased() const {
    LLMCFakeCudaCounts c = counts();
    EXPECT_EQ(c.primaryRetains, 0);
    EXPECT_EQ(c.contextDepth, 0);
    EXPECT_EQ(c.streams, 0);
    EXPECT_EQ(c.events, 0);
    EXPECT_EQ(c.modules, 0);
    EXPECT_EQ(c.graphs, 0);
    EXPECT_EQ(c.graphExecs, 0);
    EXPECT_EQ(c.deviceAllocations, 0);
    EXPECT_EQ(c.deviceBytes, 0u);
    EXPECT_EQ(c.hostAllocations, 0);
    EXPECT_EQ(c.hostBytes, 0u);
  }

private:
  template <typename Fn> Fn symbol(const char *name) {
    auto fn = reinterpret_cast<Fn>(dlsym(handle_, name));
    if (!fn)
      throw std::runtime_error(std::string("the fake driver lacks ") + name);
    return fn;
  }

  void *handle_ = nullptr;
  LLMCFakeCudaResetFn reset_ = nullptr;
  LLMCFakeCudaFailFn fail_ = nullptr;
  LLMCFakeCudaCountsFn counts_ = nullptr;
  LLMCFakeCudaGetLaunchFn getLaunch_ = nullptr;
};

} // namespace llmc::runtime::cuda::test

#endif // LLMC_TEST_UNIT_CUDA_CUDATESTSUPPORT_H
