//===- Driver.cpp - the CUDA driver, loaded at run time -------------------===//
//
// Entry points are resolved as cudart resolves them: with cuGetProcAddress
// for the CUDA version of our <cuda.h> when the driver is at least that
// version (it then hands out exactly the ABIs our prototypes declare), else
// with dlsym of the versioned names <cuda.h> maps to, which an older driver
// either exports with that very ABI or lacks.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cuda/Driver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <type_traits>

namespace llmc::runtime::cuda {

// The versioned symbol a <cuda.h> name expands to: "cuMemAlloc_v2".
#define LLMC_CU_STR_(symbol) #symbol
#define LLMC_CU_STR(name) LLMC_CU_STR_(name)

// DriverSymbols.def must agree with <cuda.h>, or we would call through the
// wrong type.
#define LLMC_CU_PFN(name, params)                                              \
  static_assert(std::is_same_v<decltype(Driver::name), decltype(&::name)>,     \
                "DriverSymbols.def: " #name " differs from <cuda.h>");
#include "runtime/src/cuda/DriverSymbols.def"

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
  using GetVersion = decltype(&::cuDriverGetVersion);
  auto getVersion = reinterpret_cast<GetVersion>(
      dlsym(library_, LLMC_CU_STR(cuDriverGetVersion)));
  if (!getVersion || getVersion(&version_) != CUDA_SUCCESS)
    version_ = 0;

  using GetProcAddress = decltype(&::cuGetProcAddress);
  GetProcAddress getProcAddress = nullptr;
  if (version_ >= CUDA_VERSION)
    getProcAddress = reinterpret_cast<GetProcAddress>(
        dlsym(library_, LLMC_CU_STR(cuGetProcAddress)));

  auto lookup = [&](const char *apiName, const char *symbol) -> void * {
    if (getProcAddress) {
      void *fn = nullptr;
      CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SUCCESS;
      // Legacy-stream variants: those are what the unsuffixed names are.
      if (getProcAddress(apiName, &fn, CUDA_VERSION,
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
                          versionString(CUDA_VERSION) + ")";
    return Status(LLMC_ERROR_NO_DEVICE, std::move(message));
  };

#define LLMC_CU_PFN(name, params)                                              \
  if (void *fn = lookup(#name, LLMC_CU_STR(name)))                             \
    this->name = reinterpret_cast<decltype(this->name)>(fn);                   \
  else                                                                         \
    return lacks(LLMC_CU_STR(name));
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
