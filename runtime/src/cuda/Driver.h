//===- Driver.h - the CUDA driver, loaded at run time -----------*- C++ -*-===//
//
// The runtime never links libcuda: Driver::load dlopens it and resolves the
// entry points of DriverSymbols.def, so that the library builds, links and
// runs on machines without a GPU, where the CUDA backend reports
// LLMC_ERROR_NO_DEVICE. The types come from CudaApi.h, not the toolkit's
// <cuda.h>: the runtime builds without a CUDA toolkit.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_CUDA_DRIVER_H
#define LLMC_RUNTIME_SRC_CUDA_DRIVER_H

#include "runtime/src/Status.h"

#include "runtime/src/cuda/CudaApi.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace llmc::runtime::cuda {

/// The loaded driver: one function pointer per entry of DriverSymbols.def,
/// named as the CUDA API names it (`driver.cuMemAlloc(&ptr, bytes)`), with
/// the prototype of its versioned ABI (cuMemAlloc_v2).
///
/// Thread-safety: load() reads the environment, so it must not race with
/// setenv; call it from one thread at a time. A loaded Driver is immutable:
/// its members may be called from any number of threads, with the CUDA
/// driver API's own rules for the contexts and streams passed to them.
class Driver {
public:
  /// Environment variable naming the driver library to load instead of
  /// libcuda.so.1 (tests point it at fake drivers).
  static constexpr const char *kPathVariable = "LLMC_CUDA_DRIVER";

  /// Loads the driver, resolves every entry point and calls cuInit(0). Fails
  /// with LLMC_ERROR_NO_DEVICE when there is no driver ("no CUDA driver:
  /// ..."), when it lacks an entry point ("CUDA driver lacks cuXxx: too old
  /// for this runtime ...") or when cuInit fails ("cuInit failed:
  /// CUDA_ERROR_NO_DEVICE (...)"). On success `out` owns the driver.
  static Status load(std::unique_ptr<Driver> &out);

  /// dlcloses the library: nothing obtained from the driver may be used after.
  ~Driver();
  Driver(const Driver &) = delete;
  Driver &operator=(const Driver &) = delete;

  /// cuDriverGetVersion's answer, 1000 * major + 10 * minor (13000 is 13.0).
  int version() const { return version_; }
  /// The library loaded: libcuda.so.1 or $LLMC_CUDA_DRIVER.
  const std::string &path() const { return path_; }

  /// The status of a failed driver call: "<what> failed: <error name>
  /// (<error string>)", e.g. "cuMemAlloc of 1234 bytes failed:
  /// CUDA_ERROR_OUT_OF_MEMORY (out of memory)". CUDA_ERROR_OUT_OF_MEMORY is
  /// LLMC_ERROR_OUT_OF_MEMORY, any other error LLMC_ERROR_INTERNAL;
  /// CUDA_SUCCESS is success.
  Status toStatus(CUresult result, std::string_view what) const;

#define LLMC_CU_PFN(name, symbol, params) CUresult(*name) params = nullptr;
#include "runtime/src/cuda/DriverSymbols.def"

private:
  Driver(void *library, std::string path)
      : library_(library), path_(std::move(path)) {}
  /// Fills every function pointer (and version_).
  Status resolve();

  void *library_;
  std::string path_;
  int version_ = 0;
};

/// Returns from the enclosing function, with driver.toStatus(result, what),
/// if the driver call `expr` (written without the `driver.`) fails. `what`,
/// evaluated only on failure, says what was attempted:
///
///   LLMC_CU_RETURN_IF_ERROR(driver, cuMemAlloc(&ptr, bytes),
///                           "cuMemAlloc of " + std::to_string(bytes) +
///                               " bytes");
#define LLMC_CU_RETURN_IF_ERROR(driver, expr, what)                            \
  do {                                                                         \
    if (CUresult llmcCuResult_ = (driver).expr; llmcCuResult_ != CUDA_SUCCESS) \
      return (driver).toStatus(llmcCuResult_, what);                           \
  } while (false)

} // namespace llmc::runtime::cuda

#endif // LLMC_RUNTIME_SRC_CUDA_DRIVER_H
