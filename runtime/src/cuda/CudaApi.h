//===- CudaApi.h - the part of the CUDA driver API the runtime uses -*- C++ -*-===//
//
// The types, constants and ABI version of the CUDA driver API that the CUDA
// backend calls through Driver, declared here rather than taken from the
// toolkit's <cuda.h>, so that the runtime builds with nothing but a C++
// compiler (-DLLMC_BUILD_COMPILER=OFF: no CUDA toolkit). They are copies of
// CUDA 13.0's declarations (same names, values and layouts), in this
// namespace so that they never meet <cuda.h>'s. test/unit/cuda/CudaApiTest.cpp
// checks every one of them, and every prototype and versioned symbol name of
// DriverSymbols.def, against the toolkit's <cuda.h> wherever there is one.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_CUDA_CUDAAPI_H
#define LLMC_RUNTIME_SRC_CUDA_CUDAAPI_H

#include <cstddef>
#include <cstdint>

namespace llmc::runtime::cuda {

/// The CUDA version whose ABIs these declarations (and the versioned names in
/// DriverSymbols.def) are: what cuGetProcAddress is asked for.
inline constexpr int kCudaApiVersion = 13000;

using CUdeviceptr = unsigned long long;
using CUdevice = int;
using cuuint64_t = std::uint64_t;

// Opaque handles.
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
struct CUctxCreateParams_st; // only ever passed as a null pointer
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUevent = CUevent_st *;
using CUgraph = CUgraph_st *;
using CUgraphExec = CUgraphExec_st *;
using CUctxCreateParams = CUctxCreateParams_st;

// The enumerations, with the enumerators we use (any other value may still
// arrive from the driver: they are plain enums, as in C).
enum CUresult {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_NOT_SUPPORTED = 801,
};

enum CUdevice_attribute {
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,
  CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

enum CUfunction_attribute {
  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
};

enum CUjit_option {
  CU_JIT_ERROR_LOG_BUFFER = 5,
  CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
};

enum CUstreamCaptureMode {
  CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
};

enum CUdriverProcAddressQueryResult {
  CU_GET_PROC_ADDRESS_SUCCESS = 0,
};

// Flags (unsigned int or cuuint64_t parameters in the API).
enum CUstream_flags { CU_STREAM_NON_BLOCKING = 0x1 };
enum CUevent_flags { CU_EVENT_DISABLE_TIMING = 0x2 };
enum CUdriverProcAddress_flags { CU_GET_PROC_ADDRESS_LEGACY_STREAM = 1 << 0 };

/// cuGetProcAddress (versioned symbol cuGetProcAddress_v2): how Driver
/// resolves every other entry point.
using PFN_cuGetProcAddress = CUresult (*)(const char *symbol, void **pfn,
                                          int cudaVersion, cuuint64_t flags,
                                          CUdriverProcAddressQueryResult *status);
inline constexpr const char *kGetProcAddressSymbol = "cuGetProcAddress_v2";

} // namespace llmc::runtime::cuda

#endif // LLMC_RUNTIME_SRC_CUDA_CUDAAPI_H
