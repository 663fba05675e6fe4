//===- CudaApiTest.cpp - CudaApi.h against the toolkit's <cuda.h> ---------===//
//
// The runtime declares the part of the CUDA driver API it calls itself
// (runtime/src/cuda/CudaApi.h), so that it builds without a CUDA toolkit.
// Calling through a wrong prototype or the wrong versioned symbol would be
// silent memory corruption on a GPU, so this file checks, at compile time,
// every declaration there and every entry of DriverSymbols.def against the
// toolkit's <cuda.h>: the same values, sizes, parameter types and symbols.
// A failure stops the build; the tests below restate the symbol names at run
// time so that a mismatch also reads clearly in ctest.
//
//===----------------------------------------------------------------------===//

#include <cuda.h>

#include "runtime/src/cuda/CudaApi.h"

#include <gtest/gtest.h>

#include <string_view>
#include <type_traits>

namespace llmc::runtime::cuda {
namespace {

// --- Types: our declaration -> <cuda.h>'s. ---------------------------------
template <typename T> struct Real {
  using type = T;
};
template <typename T> using RealT = typename Real<T>::type;
#define LLMC_SAME_AS(ours, theirs)                                             \
  template <> struct Real<ours> {                                              \
    using type = theirs;                                                       \
  };
LLMC_SAME_AS(CUctx_st, ::CUctx_st)
LLMC_SAME_AS(CUmod_st, ::CUmod_st)
LLMC_SAME_AS(CUfunc_st, ::CUfunc_st)
LLMC_SAME_AS(CUstream_st, ::CUstream_st)
LLMC_SAME_AS(CUevent_st, ::CUevent_st)
LLMC_SAME_AS(CUgraph_st, ::CUgraph_st)
LLMC_SAME_AS(CUgraphExec_st, ::CUgraphExec_st)
LLMC_SAME_AS(CUctxCreateParams_st, ::CUctxCreateParams_st)
LLMC_SAME_AS(CUresult, ::CUresult)
LLMC_SAME_AS(CUdevice_attribute, ::CUdevice_attribute)
LLMC_SAME_AS(CUfunction_attribute, ::CUfunction_attribute)
LLMC_SAME_AS(CUjit_option, ::CUjit_option)
LLMC_SAME_AS(CUstreamCaptureMode, ::CUstreamCaptureMode)
LLMC_SAME_AS(CUdriverProcAddressQueryResult, ::CUdriverProcAddressQueryResult)
#undef LLMC_SAME_AS
template <typename T> struct Real<T *> {
  using type = RealT<T> *;
};
template <typename T> struct Real<const T> {
  using type = const RealT<T>;
};
template <typename R, typename... A> struct Real<R (*)(A...)> {
  using type = RealT<R> (*)(RealT<A>...);
};

static_assert(std::is_same_v<CUdeviceptr, ::CUdeviceptr>);
static_assert(std::is_same_v<CUdevice, ::CUdevice>);
static_assert(std::is_same_v<cuuint64_t, ::cuuint64_t>);
static_assert(std::is_same_v<RealT<CUcontext>, ::CUcontext>);
static_assert(std::is_same_v<RealT<CUmodule>, ::CUmodule>);
static_assert(std::is_same_v<RealT<CUfunction>, ::CUfunction>);
static_assert(std::is_same_v<RealT<CUstream>, ::CUstream>);
static_assert(std::is_same_v<RealT<CUevent>, ::CUevent>);
static_assert(std::is_same_v<RealT<CUgraph>, ::CUgraph>);
static_assert(std::is_same_v<RealT<CUgraphExec>, ::CUgraphExec>);
static_assert(std::is_same_v<RealT<CUctxCreateParams>, ::CUctxCreateParams>);

// Enumerations: the same size and underlying type (so the same ABI when
// passed by value), and every enumerator we declare has <cuda.h>'s value.
#define LLMC_SAME_ENUM(type)                                                   \
  static_assert(sizeof(type) == sizeof(::type));                               \
  static_assert(std::is_same_v<std::underlying_type_t<type>,                   \
                               std::underlying_type_t<::type>>);
LLMC_SAME_ENUM(CUresult)
LLMC_SAME_ENUM(CUdevice_attribute)
LLMC_SAME_ENUM(CUfunction_attribute)
LLMC_SAME_ENUM(CUjit_option)
LLMC_SAME_ENUM(CUstreamCaptureMode)
LLMC_SAME_ENUM(CUdriverProcAddressQueryResult)
#undef LLMC_SAME_ENUM
#define LLMC_SAME_VALUE(name) static_assert(long(name) == long(::name));
LLMC_SAME_VALUE(CUDA_SUCCESS)
LLMC_SAME_VALUE(CUDA_ERROR_OUT_OF_MEMORY)
LLMC_SAME_VALUE(CUDA_ERROR_NO_DEVICE)
LLMC_SAME_VALUE(CUDA_ERROR_NOT_SUPPORTED)
LLMC_SAME_VALUE(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
LLMC_SAME_VALUE(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE)
LLMC_SAME_VALUE(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH)
LLMC_SAME_VALUE(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
LLMC_SAME_VALUE(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
LLMC_SAME_VALUE(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
LLMC_SAME_VALUE(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
LLMC_SAME_VALUE(CU_JIT_ERROR_LOG_BUFFER)
LLMC_SAME_VALUE(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
LLMC_SAME_VALUE(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
LLMC_SAME_VALUE(CU_GET_PROC_ADDRESS_SUCCESS)
LLMC_SAME_VALUE(CU_STREAM_NON_BLOCKING)
LLMC_SAME_VALUE(CU_EVENT_DISABLE_TIMING)
LLMC_SAME_VALUE(CU_GET_PROC_ADDRESS_LEGACY_STREAM)
#undef LLMC_SAME_VALUE

// The API version: this toolkit is at least the one our ABIs are from.
static_assert(kCudaApiVersion <= CUDA_VERSION);

// --- Entry points. ---------------------------------------------------------
// <cuda.h> maps each API name to the versioned symbol of its ABI
// (cuMemAlloc -> cuMemAlloc_v2); `::name` below is that symbol's prototype.
#define LLMC_CU_STR_(symbol) #symbol
#define LLMC_CU_STR(name) LLMC_CU_STR_(name)

static_assert(std::is_same_v<RealT<PFN_cuGetProcAddress>,
                             decltype(&::cuGetProcAddress)>);
static_assert(std::string_view(LLMC_CU_STR(cuGetProcAddress)) ==
              kGetProcAddressSymbol);

#define LLMC_CU_PFN(name, symbol, params)                                      \
  static_assert(std::is_same_v<RealT<CUresult(*) params>, decltype(&::name)>, \
                "DriverSymbols.def: the prototype of " #name                   \
                " differs from <cuda.h>'s");                                   \
  static_assert(std::string_view(LLMC_CU_STR(name)) == #symbol,                \
                "DriverSymbols.def: " #name " is not " #symbol                 \
                " in <cuda.h>");
#include "runtime/src/cuda/DriverSymbols.def"

struct Entry {
  const char *symbol;
  const char *cudaH;
};
constexpr Entry kEntries[] = {
#define LLMC_CU_PFN(name, symbol, params) {#symbol, LLMC_CU_STR(name)},
#include "runtime/src/cuda/DriverSymbols.def"
};

TEST(CudaApi, VersionedSymbolsAreThoseOfCudaH) {
  for (const Entry &entry : kEntries)
    EXPECT_STREQ(entry.symbol, entry.cudaH);
  EXPECT_STREQ(kGetProcAddressSymbol, LLMC_CU_STR(cuGetProcAddress));
  EXPECT_LE(kCudaApiVersion, CUDA_VERSION);
}

} // namespace
} // namespace llmc::runtime::cuda
