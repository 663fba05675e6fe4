//===- FakeCudaStubs.cpp - every driver entry point, failing --------------===//
//
// Part of the fake drivers: a weak definition of every entry point of
// DriverSymbols.def that returns CUDA_ERROR_NOT_SUPPORTED, so that a fake
// exports exactly the symbols the runtime resolves, and cannot drift from
// them. FakeCuda.cpp's strong definitions replace those a test relies on.
//
//===----------------------------------------------------------------------===//

#include <cuda.h>

#ifdef LLMC_FAKE_CUDA_OLD
// A CUDA 12.4 driver: it exports cuCtxCreate_v2, not 12.5's cuCtxCreate_v4.
#undef cuCtxCreate
#define cuCtxCreate cuCtxCreate_v2
#endif

#define LLMC_CU_PFN(name, symbol, params)                                      \
  extern "C" __attribute__((weak)) CUresult CUDAAPI name params {              \
    return CUDA_ERROR_NOT_SUPPORTED;                                           \
  }
#include "runtime/src/cuda/DriverSymbols.def"
