//===- FakeCudaGpu.cpp - the fake H100's contexts, memory and kernels -----===//
//
// Part of the fake H100 driver (see FakeCudaControl.h): just enough of the
// driver's state machine for the CUDA backend to be created, run and torn
// down without a GPU, with every resource counted so that tests can check
// that nothing leaks, and every call checked the way the real driver checks
// it where the backend could get it wrong (a current context, valid handles,
// ranges inside allocations, the shared memory opt-in, no synchronization
// while capturing).
//
//===----------------------------------------------------------------------===//

#include "FakeCudaControl.h"

#ifdef LLMC_FAKE_CUDA_EMU
#include "test/emulation/EmuKernels.h"
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Module {
  std::string target, symbol, signature;
  bool jit = false;
  int maxDynamicShared = 48 * 1024;
};

struct Stream {
  bool capturing = false;
  std::vector<LLMCFakeCudaLaunch> captured;
};

using Graph = std::vector<LLMCFakeCudaLaunch>;

struct State {
#ifdef LLMC_FAKE_CUDA_EMU
  uint64_t capacity = uint64_t(64) << 30; // host memory, touched on use
#else
  uint64_t capacity = 0;
#endif
  LLMCFakeCudaCounts counts{};
  int primaryContextTag = 0; // its address is the primary context
  std::vector<CUcontext> contextStack;
  std::map<uintptr_t, size_t> device; // address -> bytes
  std::map<void *, size_t> host;
  std::set<Module *> modules;
  std::set<Stream *> streams;
  std::set<int *> events;
  std::set<Graph *> graphs, graphExecs;
  std::vector<LLMCFakeCudaLaunch> launches;
  struct Failure {
    int remaining;
    CUresult result;
  };
  std::map<std::string, Failure> failures;
};

State &state() {
  static State s;
  return s;
}

CUcontext primaryContext() {
  return reinterpret_cast<CUcontext>(&state().primaryContextTag);
}

/// The injected result of this call of `api`, or CUDA_SUCCESS.
CUresult injected(const char *api) {
  auto found = state().failures.find(api);
  if (found == state().failures.end())
    return CUDA_SUCCESS;
  if (found->second.remaining-- == 0) {
    CUresult result = found->second.result;
    state().failures.erase(found);
    return result;
  }
  return CUDA_SUCCESS;
}

bool hasContext() {
  const auto &stack = state().contextStack;
  return !stack.empty() && stack.back() == primaryContext();
}

/// Whether [address, address + bytes) lies inside one device allocation.
bool deviceRange(CUdeviceptr address, size_t bytes) {
  const auto &device = state().device;
  auto it = device.upper_bound(uintptr_t(address));
  if (it == device.begin())
    return false;
  --it;
  return uintptr_t(address) + bytes <= it->first + it->second;
}

Stream *stream(CUstream handle) {
  auto *s = reinterpret_cast<Stream *>(handle);
  return state().streams.count(s) ? s : nullptr;
}

#define FAKE_CHECK(api)                                                        \
  do {                                                                         \
    if (CUresult r = injected(api); r != CUDA_SUCCESS)                         \
      return r;                                                                \
  } while (false)

#define FAKE_NEEDS_CONTEXT()                                                   \
  do {                                                                         \
    if (!hasContext())                                                         \
      return CUDA_ERROR_INVALID_CONTEXT;                                       \
  } while (false)

} // namespace

extern "C" {

//===----------------------------------------------------------------------===//
// Control
//===----------------------------------------------------------------------===//

void llmcFakeCudaReset(uint64_t memoryBytes) {
  State &s = state();
  s.capacity = memoryBytes;
  s.counts = LLMCFakeCudaCounts{};
  s.launches.clear();
  s.failures.clear();
  // Whatever a previous test leaked stays allocated but is forgotten.
  s.contextStack.clear();
  s.device.clear();
  s.host.clear();
  s.modules.clear();
  s.streams.clear();
  s.events.clear();
  s.graphs.clear();
  s.graphExecs.clear();
}

void llmcFakeCudaFail(const char *api, int nth, CUresult result) {
  state().failures[api] = {nth, result};
}

void llmcFakeCudaCounts(LLMCFakeCudaCounts *out) { *out = state().counts; }

int llmcFakeCudaGetLaunch(int index, LLMCFakeCudaLaunch *out) {
  const auto &launches = state().launches;
  if (index < 0 || size_t(index) >= launches.size())
    return 0;
  *out = launches[size_t(index)];
  return 1;
}

//===----------------------------------------------------------------------===//
// Contexts
//===----------------------------------------------------------------------===//

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice device) {
  FAKE_CHECK("cuDevicePrimaryCtxRetain");
  if (device != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  *context = primaryContext();
  ++state().counts.primaryRetains;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice device) {
  if (device != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  if (state().counts.primaryRetains == 0)
    return CUDA_ERROR_INVALID_CONTEXT;
  --state().counts.primaryRetains;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxPushCurrent(CUcontext context) {
  FAKE_CHECK("cuCtxPushCurrent");
  if (context != primaryContext() || state().counts.primaryRetains == 0)
    return CUDA_ERROR_INVALID_CONTEXT;
  state().contextStack.push_back(context);
  ++state().counts.contextDepth;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxPopCurrent(CUcontext *context) {
  auto &stack = state().contextStack;
  if (stack.empty())
    return CUDA_ERROR_INVALID_CONTEXT;
  if (context)
    *context = stack.back();
  stack.pop_back();
  --state().counts.contextDepth;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext context) {
  auto &stack = state().contextStack;
  if (!stack.empty())
    stack.pop_back();
  if (context)
    stack.push_back(context);
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

CUresult CUDAAPI cuMemAlloc(CUdeviceptr *pointer, size_t bytes) {
  State &s = state();
  // Without memory (the state at load) even the context check comes second,
  // as DriverTest relies on.
  if (s.capacity == 0)
    return CUDA_ERROR_OUT_OF_MEMORY;
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuMemAlloc");
  if (bytes == 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (bytes > s.capacity - s.counts.deviceBytes)
    return CUDA_ERROR_OUT_OF_MEMORY;
  void *memory = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!memory)
    return CUDA_ERROR_OUT_OF_MEMORY;
  // Garbage, as device memory is: whatever relies on zeros must clear it.
  std::memset(memory, 0xa5, bytes);
  s.device[uintptr_t(memory)] = bytes;
  *pointer = CUdeviceptr(uintptr_t(memory));
  ++s.counts.deviceAllocations;
  ++s.counts.totalDeviceAllocations;
  s.counts.deviceBytes += bytes;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr pointer) {
  FAKE_NEEDS_CONTEXT();
  State &s = state();
  auto found = s.device.find(uintptr_t(pointer));
  if (found == s.device.end())
    return CUDA_ERROR_INVALID_VALUE;
  s.counts.deviceBytes -= found->second;
  --s.counts.deviceAllocations;
  std::free(reinterpret_cast<void *>(found->first));
  s.device.erase(found);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetInfo(size_t *freeBytes, size_t *totalBytes) {
  FAKE_NEEDS_CONTEXT();
  *freeBytes = size_t(state().capacity - state().counts.deviceBytes);
  *totalBytes = size_t(state().capacity);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocHost(void **pointer, size_t bytes) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuMemAllocHost");
  void *memory = std::malloc(bytes ? bytes : 1);
  if (!memory)
    return CUDA_ERROR_OUT_OF_MEMORY;
  State &s = state();
  s.host[memory] = bytes;
  *pointer = memory;
  ++s.counts.hostAllocations;
  ++s.counts.totalHostAllocations;
  s.counts.hostBytes += bytes;
  if (s.counts.hostBytes > s.counts.peakHostBytes)
    s.counts.peakHostBytes = s.counts.hostBytes;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFreeHost(void *pointer) {
  FAKE_NEEDS_CONTEXT();
  State &s = state();
  auto found = s.host.find(pointer);
  if (found == s.host.end())
    return CUDA_ERROR_INVALID_VALUE;
  s.counts.hostBytes -= found->second;
  --s.counts.hostAllocations;
  std::free(pointer);
  s.host.erase(found);
  return CUDA_SUCCESS;
}

namespace {

/// A copy on `stream` (nullptr: the synchronous API), as the driver checks
/// it; the fake's device memory is host memory.
CUresult copy(const char *api, void *dst, const void *src, size_t bytes,
              CUdeviceptr deviceSide, CUstream handle, bool async,
              bool toDevice) {
  if (!hasContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  if (CUresult r = injected(api); r != CUDA_SUCCESS)
    return r;
  if (async) {
    Stream *s = stream(handle);
    if (!s)
      return CUDA_ERROR_INVALID_HANDLE;
    // The backend never copies inside a capture.
    if (s->capturing)
      return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  if (!deviceRange(deviceSide, bytes))
    return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(dst, src, bytes);
  if (toDevice)
    state().counts.hostToDeviceBytes += bytes;
  return CUDA_SUCCESS;
}

void *hostPointer(CUdeviceptr pointer) {
  return reinterpret_cast<void *>(uintptr_t(pointer));
}

} // namespace

CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t bytes) {
  return copy("cuMemcpyHtoD", hostPointer(dst), src, bytes, dst, nullptr, false,
              true);
}

CUresult CUDAAPI cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t bytes) {
  return copy("cuMemcpyDtoH", dst, hostPointer(src), bytes, src, nullptr, false,
              false);
}

CUresult CUDAAPI cuMemcpyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  if (!deviceRange(src, bytes))
    return CUDA_ERROR_INVALID_VALUE;
  return copy("cuMemcpyDtoD", hostPointer(dst), hostPointer(src), bytes, dst,
              nullptr, false, false);
}

CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src,
                                   size_t bytes, CUstream stream) {
  return copy("cuMemcpyHtoDAsync", hostPointer(dst), src, bytes, dst, stream,
              true, true);
}

CUresult CUDAAPI cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t bytes,
                                   CUstream stream) {
  return copy("cuMemcpyDtoHAsync", dst, hostPointer(src), bytes, src, stream,
              true, false);
}

CUresult CUDAAPI cuMemsetD8(CUdeviceptr dst, unsigned char value,
                            size_t bytes) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuMemsetD8");
  if (!deviceRange(dst, bytes))
    return CUDA_ERROR_INVALID_VALUE;
  std::memset(hostPointer(dst), value, bytes);
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Streams and events
//===----------------------------------------------------------------------===//

CUresult CUDAAPI cuStreamCreate(CUstream *handle, unsigned int flags) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuStreamCreate");
  auto *s = new Stream;
  state().streams.insert(s);
  ++state().counts.streams;
  *handle = reinterpret_cast<CUstream>(s);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamDestroy(CUstream handle) {
  FAKE_NEEDS_CONTEXT();
  Stream *s = stream(handle);
  if (!s)
    return CUDA_ERROR_INVALID_HANDLE;
  state().streams.erase(s);
  delete s;
  --state().counts.streams;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamSynchronize(CUstream handle) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuStreamSynchronize");
  Stream *s = stream(handle);
  if (!s)
    return CUDA_ERROR_INVALID_HANDLE;
  if (s->capturing)
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventCreate(CUevent *event, unsigned int flags) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuEventCreate");
  int *e = new int(0);
  state().events.insert(e);
  ++state().counts.events;
  *event = reinterpret_cast<CUevent>(e);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventDestroy(CUevent event) {
  FAKE_NEEDS_CONTEXT();
  int *e = reinterpret_cast<int *>(event);
  if (!state().events.erase(e))
    return CUDA_ERROR_INVALID_HANDLE;
  delete e;
  --state().counts.events;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventRecord(CUevent event, CUstream handle) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuEventRecord");
  if (!state().events.count(reinterpret_cast<int *>(event)) || !stream(handle))
    return CUDA_ERROR_INVALID_HANDLE;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventSynchronize(CUevent event) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuEventSynchronize");
  if (!state().events.count(reinterpret_cast<int *>(event)))
    return CUDA_ERROR_INVALID_HANDLE;
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Modules and kernels
//===----------------------------------------------------------------------===//

namespace {

CUresult loadModule(CUmodule *handle, const void *image, const char *magic,
                    bool jit) {
  auto *module = new Module;
  module->jit = jit;
#ifdef LLMC_FAKE_CUDA_EMU
  // A real cubin or PTX: its entry is bound by cuModuleGetFunction.
  (void)magic;
  module->target = "emulated";
#else
  std::istringstream in(static_cast<const char *>(image));
  std::string word;
  if (!(in >> word >> module->target >> module->symbol >> module->signature) ||
      word != magic) {
    delete module;
    return CUDA_ERROR_INVALID_IMAGE;
  }
#endif
  state().modules.insert(module);
  ++state().counts.modules;
  ++(jit ? state().counts.ptxLoads : state().counts.cubinLoads);
  *handle = reinterpret_cast<CUmodule>(module);
  return CUDA_SUCCESS;
}

/// Under emulation, runs the launch's kernel on the CPU (EmuKernels.h);
/// elsewhere launches are only logged.
CUresult emulate(const std::string &signature,
                 const LLMCFakeCudaLaunch &launch) {
#ifdef LLMC_FAKE_CUDA_EMU
  std::string error;
  if (!llmc::test::emu::run(launch.symbol, signature, launch.grid,
                            launch.block, launch.sharedBytes, launch.params,
                            error)) {
    std::fprintf(stderr, "fake cuda (emulation): %s: %s\n", launch.symbol,
                 error.c_str());
    return CUDA_ERROR_LAUNCH_FAILED;
  }
#else
  (void)signature;
  (void)launch;
#endif
  return CUDA_SUCCESS;
}

Module *module(CUmodule handle) {
  auto *m = reinterpret_cast<Module *>(handle);
  return state().modules.count(m) ? m : nullptr;
}

} // namespace

CUresult CUDAAPI cuModuleLoadData(CUmodule *handle, const void *image) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuModuleLoadData");
  return loadModule(handle, image, "FAKECUBIN", false);
}

CUresult CUDAAPI cuModuleLoadDataEx(CUmodule *handle, const void *image,
                                    unsigned int numOptions,
                                    CUjit_option *options, void **values) {
  FAKE_NEEDS_CONTEXT();
  if (CUresult r = injected("cuModuleLoadDataEx"); r != CUDA_SUCCESS) {
    // As the JIT does: the reason goes to the error log.
    for (unsigned i = 0; i < numOptions; ++i)
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
        std::strcpy(static_cast<char *>(values[i]),
                    "ptxas fatal: fake JIT failure");
    return r;
  }
  return loadModule(handle, image, "FAKEPTX", true);
}

CUresult CUDAAPI cuModuleUnload(CUmodule handle) {
  FAKE_NEEDS_CONTEXT();
  Module *m = module(handle);
  if (!m)
    return CUDA_ERROR_INVALID_HANDLE;
  state().modules.erase(m);
  delete m;
  --state().counts.modules;
  return CUDA_SUCCESS;
}

/// A module has one function, its symbol; the function handle is the module.
CUresult CUDAAPI cuModuleGetFunction(CUfunction *function, CUmodule handle,
                                     const char *name) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuModuleGetFunction");
  Module *m = module(handle);
  if (!m)
    return CUDA_ERROR_INVALID_HANDLE;
#ifdef LLMC_FAKE_CUDA_EMU
  if (m->symbol.empty()) {
    std::string error;
    if (!llmc::test::emu::signature(name, m->signature, error)) {
      std::fprintf(stderr, "fake cuda (emulation): %s\n", error.c_str());
      return CUDA_ERROR_NOT_FOUND;
    }
    m->symbol = name;
  }
#endif
  if (m->symbol != name)
    return CUDA_ERROR_NOT_FOUND;
  *function = reinterpret_cast<CUfunction>(m);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncSetAttribute(CUfunction function,
                                    CUfunction_attribute attribute, int value) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuFuncSetAttribute");
  Module *m = module(reinterpret_cast<CUmodule>(function));
  if (!m)
    return CUDA_ERROR_INVALID_HANDLE;
  if (attribute != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES ||
      value < 0 || value > 227 * 1024)
    return CUDA_ERROR_INVALID_VALUE;
  m->maxDynamicShared = value;
  ++state().counts.sharedOptIns;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchKernel(CUfunction function, unsigned gridX,
                                unsigned gridY, unsigned gridZ, unsigned blockX,
                                unsigned blockY, unsigned blockZ,
                                unsigned sharedBytes, CUstream handle,
                                void **params, void **extra) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuLaunchKernel");
  Module *m = module(reinterpret_cast<CUmodule>(function));
  Stream *s = stream(handle);
  if (!m || !s)
    return CUDA_ERROR_INVALID_HANDLE;
  // The decoded parameters must fit the launch record (an llmc_kv takes
  // eight); real CUDA allows 32 KB of them.
  size_t slots = 0;
  for (char kind : m->signature)
    slots += kind == 'k' ? 8 : 1;
  if (!gridX || !gridY || !gridZ || !blockX || !blockY || !blockZ ||
      uint64_t(blockX) * blockY * blockZ > 1024 || !params || extra ||
      int(sharedBytes) > m->maxDynamicShared ||
      slots > LLMC_FAKE_CUDA_MAX_PARAMS)
    return CUDA_ERROR_INVALID_VALUE;
  LLMCFakeCudaLaunch launch{};
  std::strncpy(launch.symbol, m->symbol.c_str(), sizeof launch.symbol - 1);
  std::strncpy(launch.target, m->target.c_str(), sizeof launch.target - 1);
  launch.jit = m->jit;
  launch.grid[0] = gridX;
  launch.grid[1] = gridY;
  launch.grid[2] = gridZ;
  launch.block[0] = blockX;
  launch.block[1] = blockY;
  launch.block[2] = blockZ;
  launch.sharedBytes = sharedBytes;
  std::strncpy(launch.signature, m->signature.c_str(),
               sizeof launch.signature - 1);
  for (size_t i = 0; i < m->signature.size(); ++i) {
    const void *p = params[i];
    uint64_t *out = launch.params + launch.numParams;
    switch (m->signature[i]) {
    case 'i': {
      int32_t v;
      std::memcpy(&v, p, 4);
      out[0] = uint64_t(int64_t(v));
      launch.numParams += 1;
      break;
    }
    case 'p':
      std::memcpy(out, p, 8);
      launch.numParams += 1;
      break;
    case 'k': { // llmc_kv (KernelABI.h): keys, values, capacity,
                // key_scales, value_scales, page_table, table_pages,
                // page_shift
      const char *kv = static_cast<const char *>(p);
      int32_t ints[3];
      std::memcpy(out, kv, 16);
      std::memcpy(&ints[0], kv + 16, 4);
      out[2] = uint64_t(int64_t(ints[0]));
      std::memcpy(out + 3, kv + 24, 24);
      std::memcpy(&ints[1], kv + 48, 8);
      out[6] = uint64_t(int64_t(ints[1]));
      out[7] = uint64_t(int64_t(ints[2]));
      launch.numParams += 8;
      break;
    }
    default:
      return CUDA_ERROR_INVALID_IMAGE;
    }
  }
  if (s->capturing) {
    s->captured.push_back(launch);
  } else {
    state().launches.push_back(launch);
    ++state().counts.launches;
    if (CUresult r = emulate(m->signature, launch); r != CUDA_SUCCESS)
      return r;
  }
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Graphs
//===----------------------------------------------------------------------===//

CUresult CUDAAPI cuStreamBeginCapture(CUstream handle,
                                      CUstreamCaptureMode mode) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuStreamBeginCapture");
  Stream *s = stream(handle);
  if (!s)
    return CUDA_ERROR_INVALID_HANDLE;
  if (s->capturing)
    return CUDA_ERROR_ILLEGAL_STATE;
  s->capturing = true;
  s->captured.clear();
  ++state().counts.captures;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamEndCapture(CUstream handle, CUgraph *graph) {
  FAKE_NEEDS_CONTEXT();
  Stream *s = stream(handle);
  if (!s)
    return CUDA_ERROR_INVALID_HANDLE;
  if (!s->capturing)
    return CUDA_ERROR_ILLEGAL_STATE;
  s->capturing = false;
  if (CUresult r = injected("cuStreamEndCapture"); r != CUDA_SUCCESS) {
    *graph = nullptr;
    return r;
  }
  auto *g = new Graph(std::move(s->captured));
  for (LLMCFakeCudaLaunch &launch : *g)
    launch.fromGraph = 1;
  state().graphs.insert(g);
  ++state().counts.graphs;
  *graph = reinterpret_cast<CUgraph>(g);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph,
                                             unsigned long long flags) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuGraphInstantiateWithFlags");
  auto *g = reinterpret_cast<Graph *>(graph);
  if (!state().graphs.count(g))
    return CUDA_ERROR_INVALID_HANDLE;
  auto *e = new Graph(*g);
  state().graphExecs.insert(e);
  ++state().counts.graphExecs;
  *exec = reinterpret_cast<CUgraphExec>(e);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphDestroy(CUgraph graph) {
  auto *g = reinterpret_cast<Graph *>(graph);
  if (!state().graphs.erase(g))
    return CUDA_ERROR_INVALID_HANDLE;
  delete g;
  --state().counts.graphs;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec exec) {
  auto *e = reinterpret_cast<Graph *>(exec);
  if (!state().graphExecs.erase(e))
    return CUDA_ERROR_INVALID_HANDLE;
  delete e;
  --state().counts.graphExecs;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphLaunch(CUgraphExec exec, CUstream handle) {
  FAKE_NEEDS_CONTEXT();
  FAKE_CHECK("cuGraphLaunch");
  auto *e = reinterpret_cast<Graph *>(exec);
  Stream *s = stream(handle);
  if (!state().graphExecs.count(e) || !s)
    return CUDA_ERROR_INVALID_HANDLE;
  if (s->capturing)
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  for (const LLMCFakeCudaLaunch &launch : *e) {
    state().launches.push_back(launch);
    if (CUresult r = emulate(launch.signature, launch); r != CUDA_SUCCESS)
      return r;
  }
  state().counts.launches += int(e->size());
  ++state().counts.graphLaunches;
  return CUDA_SUCCESS;
}

} // extern "C"
