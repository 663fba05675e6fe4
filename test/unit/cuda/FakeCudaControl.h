//===- FakeCudaControl.h - steering the fake H100 from tests ----*- C++ -*-===//
//
// The fake H100 driver (FakeCudaGpu.cpp) simulates device state in host
// memory: device allocations are malloc'ed (so copies are memcpy), modules
// are parsed from fake images, launches are logged rather than run, and
// graphs replay the launches captured into them. Tests reach it through the
// extern "C" functions below, looked up with dlsym on a handle of their own
// (dlopen of the same path returns the instance the runtime loaded).
//
// Fake module images, for Plan.cuda's cubin and ptx bytes (NUL-terminated):
//
//   "FAKECUBIN <target> <symbol> <signature>"   loaded by cuModuleLoadData
//   "FAKEPTX <target> <symbol> <signature>"     loaded by cuModuleLoadDataEx
//
// where <signature> has one letter per kernel parameter: 'i' an int, 'p' a
// pointer, 'k' an llmc_kv (eight parameters in a launch record: keys,
// values, capacity, key_scales, value_scales, page_table, table_pages,
// page_shift). cuLaunchKernel reads the parameters by it.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_CUDA_FAKECUDACONTROL_H
#define LLMC_TEST_UNIT_CUDA_FAKECUDACONTROL_H

#include <cuda.h>

#include <stdint.h>

/// Live counts are creations minus destructions; the rest only grow.
struct LLMCFakeCudaCounts {
  int primaryRetains;    // live cuDevicePrimaryCtxRetain
  int contextDepth;      // cuCtxPushCurrent minus cuCtxPopCurrent
  int streams;           // live
  int events;            // live
  int modules;           // live
  int graphs;            // live CUgraph
  int graphExecs;        // live CUgraphExec
  int deviceAllocations; // live cuMemAlloc
  uint64_t deviceBytes;  // live
  int hostAllocations;   // live cuMemAllocHost
  uint64_t hostBytes;    // live
  uint64_t peakHostBytes;
  int totalDeviceAllocations;
  int totalHostAllocations;
  int cubinLoads;    // cuModuleLoadData
  int ptxLoads;      // cuModuleLoadDataEx
  int sharedOptIns;  // cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)
  int captures;      // cuStreamBeginCapture
  int graphLaunches; // cuGraphLaunch
  int launches;      // kernels run, directly or by a graph
  uint64_t hostToDeviceBytes;
};

#define LLMC_FAKE_CUDA_MAX_PARAMS 64

/// One kernel run. A KVCache parameter ('k') takes eight params (see
/// above).
struct LLMCFakeCudaLaunch {
  char symbol[160];
  char target[16]; // of the module's image
  int jit;         // the module came from PTX
  int fromGraph;
  unsigned grid[3];
  unsigned block[3];
  unsigned sharedBytes;
  int numParams;
  uint64_t params[LLMC_FAKE_CUDA_MAX_PARAMS];
  char signature[LLMC_FAKE_CUDA_MAX_PARAMS + 1]; // the module's
};

#ifdef __cplusplus
extern "C" {
#endif

/// Forgets every log, count and injected failure, and gives the device
/// `memoryBytes` of memory. With 0 (the state at load) cuMemAlloc always
/// fails with CUDA_ERROR_OUT_OF_MEMORY.
typedef void (*LLMCFakeCudaResetFn)(uint64_t memoryBytes);
/// Makes call number `nth` (0-based, counted from now) of the entry point
/// `api` ("cuMemAllocHost") return `result`.
typedef void (*LLMCFakeCudaFailFn)(const char *api, int nth, CUresult result);
typedef void (*LLMCFakeCudaCountsFn)(struct LLMCFakeCudaCounts *out);
/// Copies launch `index` of the log; 0 if there is none.
typedef int (*LLMCFakeCudaGetLaunchFn)(int index,
                                       struct LLMCFakeCudaLaunch *out);

#ifdef __cplusplus
} // extern "C"
#endif

#endif // LLMC_TEST_UNIT_CUDA_FAKECUDACONTROL_H
