//===- Driver.cpp - the CUDA driver, loaded at run time -------------------===//
//
// Entry points are resolved as cudart resolves them: with cuGetProcAddress
// for the CUDA version of CudaApi.h when the driver is at least that version
// (it then hands out exactly the ABIs our prototypes declare), else with
// dlsym of the versioned symbols DriverSymbols.def names, which an older
// driver either exports with that very ABI or lacks.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cuda/Driver.h"

#include <dlfcn.h>

#include <cstdlib>

namespace llmc::runtime::cuda {

namespace {

/// "13.0" for 13000.
std::string versionString(int version) {
  return std::to_string(version / 1000) + "." +
         std::to_string(version % 1000 / 10);
}

} // namespace

Status Driver::load(std::unique_ptr<Driver> &out) {
  const char *path = std::getenv(kPathVariable);
  std::unique_ptr<Driver> driver(
      new Driver(nullptr, path && *path ? path : "libcuda.so.1"));
  dlerror();
  driver->library_ = dlopen(driver->path_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!driver->library_) {
    const char *error = dlerror();
    return Status(LLMC_ERROR_NO_DEVICE,
                  "no CUDA driver: cannot load " + driver->path_ + " (" +
                      (error ? error : "unknown error") + ")");
  }
  LLMC_RETURN_IF_ERROR(driver->resolve());
  if (CUresult result = driver->cuInit(0); result != CUDA_SUCCESS)
    return Status(LLMC_ERROR_NO_DEVICE,
                  driver->toStatus(result, "cuInit").message());
  out = std::move(driver);
  return Status::success();
}

Driver::~Driver() {
  if (library_)
    dlclose(library_);
}

Status Driver::resolve() {
  // The version first: it decides how to resolve, and explains what is
  // missing. cuDriverGetVersion works before cuInit.
  auto getVersion = reinterpret_cast<decltype(cuDriverGetVersion)>(
      dlsym(library_, "cuDriverGetVersion"));
  if (!getVersion || getVersion(&version_) != CUDA_SUCCESS)
    version_ = 0;

  PFN_cuGetProcAddress getProcAddress = nullptr;
  if (version_ >= kCudaApiVersion)
    getProcAddress = reinterpret_cast<PFN_cuGetProcAddress>(
        dlsym(library_, kGetProcAddressSymbol));

  auto lookup = [&](const char *apiName, const char *symbol) -> void * {
    if (getProcAddress) {
      void *fn = nullptr;
      CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SUCCESS;
      // Legacy-stream variants: those are what the unsuffixed names are.
      if (getProcAddress(apiName, &fn, kCudaApiVersion,
                         CU_GET_PROC_ADDRESS_LEGACY_STREAM,
                         &found) == CUDA_SUCCESS &&
          found == CU_GET_PROC_ADDRESS_SUCCESS && fn)
        return fn;
    }
    return dlsym(library_, symbol);
  };
  auto lacks = [&](const char *symbol) {
    std::string message = std::string("CUDA driver lacks ") + symbol +
                          ": too old for this runtime (" + path_ +
                          (version_ > 0 ? " is CUDA " + versionString(version_)
                                        : " does not say its version") +
                          "; this runtime was built against CUDA " +
                          versionString(kCudaApiVersion) + ")";
    return Status(LLMC_ERROR_NO_DEVICE, std::move(message));
  };

#define LLMC_CU_PFN(name, symbol, params)                                      \
  if (void *fn = lookup(#name, #symbol))                                       \
    this->name = reinterpret_cast<decltype(this->name)>(fn);                   \
  else                                                                         \
    return lacks(#symbol);
#include "runtime/src/cuda/DriverSymbols.def"

  return Status::success();
}

Status Driver::toStatus(CUresult result, std::string_view what) const {
  if (result == CUDA_SUCCESS)
    return Status::success();
  const char *name = nullptr;
  const char *text = nullptr;
  std::string message(what);
  message += " failed: ";
  if (cuGetErrorName(result, &name) == CUDA_SUCCESS && name)
    message += name;
  else
    message += "CUresult " + std::to_string(int(result));
  if (cuGetErrorString(result, &text) == CUDA_SUCCESS && text)
    message += std::string(" (") + text + ")";
  else
    message += " (unrecognized error code)";
  return Status(result == CUDA_ERROR_OUT_OF_MEMORY ? LLMC_ERROR_OUT_OF_MEMORY
                                                   : LLMC_ERROR_INTERNAL,
                std::move(message));
}

} // namespace llmc::runtime::cuda
