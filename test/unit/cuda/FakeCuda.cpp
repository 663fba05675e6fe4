//===- FakeCuda.cpp - what a fake CUDA driver does ------------------------===//
//
// The behaviour of one fake driver, chosen at compile time:
//   LLMC_FAKE_CUDA_OLD        CUDA 12.4; cuInit succeeds (loading fails first)
//   LLMC_FAKE_CUDA_NO_DEVICE  CUDA 12.8; cuInit finds no device; resolved
//                             with dlsym (no cuGetProcAddress_v2)
//   LLMC_FAKE_CUDA_H100       CUDA 13.0; one "Fake H100"; resolved with
//                             cuGetProcAddress_v2; contexts, memory, modules,
//                             launches and graphs simulated by FakeCudaGpu.cpp
//                             (cuMemAlloc fails with CUDA_ERROR_OUT_OF_MEMORY
//                             until a test gives the device memory)
// Every other entry point is FakeCudaStubs.cpp's.
//
//===----------------------------------------------------------------------===//

#include <cuda.h>

#include <cstring>

#if defined(LLMC_FAKE_CUDA_OLD)
constexpr int kVersion = 12040;
constexpr CUresult kInitResult = CUDA_SUCCESS;
#elif defined(LLMC_FAKE_CUDA_NO_DEVICE)
constexpr int kVersion = 12080;
constexpr CUresult kInitResult = CUDA_ERROR_NO_DEVICE;
#elif defined(LLMC_FAKE_CUDA_H100)
constexpr int kVersion = 13000;
constexpr CUresult kInitResult = CUDA_SUCCESS;
#else
#error "define the variant of fake driver to build"
#endif

namespace {

/// What the real driver's cuGetErrorName/String answer.
struct ErrorText {
  CUresult code;
  const char *name;
  const char *text;
};
constexpr ErrorText kErrors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE",
     "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE",
     "invalid device ordinal"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED",
     "operation not supported"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT",
     "invalid device context"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE",
     "invalid resource handle"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE",
     "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX",
     "a PTX JIT compilation failed"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_ILLEGAL_STATE, "CUDA_ERROR_ILLEGAL_STATE",
     "the operation cannot be performed in the present state"},
    {CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
     "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"},
};

const ErrorText *findError(CUresult code) {
  for (const ErrorText &error : kErrors)
    if (error.code == code)
      return &error;
  return nullptr;
}

} // namespace

extern "C" {

CUresult CUDAAPI cuInit(unsigned int flags) {
  return flags ? CUDA_ERROR_INVALID_VALUE : kInitResult;
}

CUresult CUDAAPI cuDriverGetVersion(int *version) {
  if (!version)
    return CUDA_ERROR_INVALID_VALUE;
  *version = kVersion;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorName(CUresult code, const char **name) {
  const ErrorText *error = findError(code);
  *name = error ? error->name : nullptr;
  return error ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuGetErrorString(CUresult code, const char **text) {
  const ErrorText *error = findError(code);
  *text = error ? error->text : nullptr;
  return error ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

#ifdef LLMC_FAKE_CUDA_H100

CUresult CUDAAPI cuDeviceGetCount(int *count) {
  *count = 1;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char *name, int length, CUdevice device) {
  if (device != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  if (!name || length <= 0)
    return CUDA_ERROR_INVALID_VALUE;
  std::strncpy(name, "Fake H100", size_t(length) - 1);
  name[length - 1] = '\0';
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                                      CUdevice device) {
  if (device != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  switch (attribute) { // An H100 SXM5.
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *value = 9;
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *value = 0;
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    *value = 132;
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *value = 227 * 1024;
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE:
    *value = 2619000; // kHz
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH:
    *value = 5120;
    return CUDA_SUCCESS;
  default:
    return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult CUDAAPI cuDeviceTotalMem(size_t *bytes, CUdevice device) {
  if (device != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  *bytes = size_t(80) << 30;
  return CUDA_SUCCESS;
}

/// What the runtime asked cuGetProcAddress: how often, the least and most
/// CUDA version, and the flags OR'ed over all calls (so one odd call shows).
static int procAddressCalls = 0;
static int procAddressMinVersion = 0;
static int procAddressMaxVersion = 0;
static cuuint64_t procAddressFlags = 0;

void llmcFakeCudaProcAddressStats(int *calls, int *minVersion, int *maxVersion,
                                  cuuint64_t *flags) {
  *calls = procAddressCalls;
  *minVersion = procAddressMinVersion;
  *maxVersion = procAddressMaxVersion;
  *flags = procAddressFlags;
}

CUresult CUDAAPI cuGetProcAddress(const char *symbol, void **fn,
                                  int cudaVersion, cuuint64_t flags,
                                  CUdriverProcAddressQueryResult *found) {
  if (procAddressCalls++ == 0)
    procAddressMinVersion = procAddressMaxVersion = cudaVersion;
  if (cudaVersion < procAddressMinVersion)
    procAddressMinVersion = cudaVersion;
  if (cudaVersion > procAddressMaxVersion)
    procAddressMaxVersion = cudaVersion;
  procAddressFlags |= flags;
  struct Entry {
    const char *name;
    void *fn;
  };
  // The API names, each mapped to the versioned symbol <cuda.h> declares.
  static const Entry kEntries[] = {
#define LLMC_CU_PFN(name, symbol, params)                                      \
  {#name, reinterpret_cast<void *>(&name)},
#include "runtime/src/cuda/DriverSymbols.def"
  };
  for (const Entry &entry : kEntries) {
    if (std::strcmp(entry.name, symbol) == 0) {
      *fn = entry.fn;
      *found = CU_GET_PROC_ADDRESS_SUCCESS;
      return CUDA_SUCCESS;
    }
  }
  *fn = nullptr;
  *found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  return CUDA_ERROR_NOT_FOUND;
}

#endif // LLMC_FAKE_CUDA_H100

} // extern "C"
