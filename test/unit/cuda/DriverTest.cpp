//===- DriverTest.cpp - loading the CUDA driver, real and fake ------------===//
//
// Driver::load against no driver, fake drivers too old to use, one without a
// device and one with a single H100 (see FakeCuda.cpp), and the mapping of
// CUresult to Status.
//
//===----------------------------------------------------------------------===//

#include "CudaTestSupport.h"
#include "runtime/src/cuda/Driver.h"
#include "runtime/src/cuda/Device.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <iostream>
#include <optional>

namespace llmc::runtime::cuda {
namespace {

using test::ScopedDriverPath;

constexpr int kEntryPoints = 0
#define LLMC_CU_PFN(name, symbol, params) +1
#include "runtime/src/cuda/DriverSymbols.def"
    ;

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
bool contains(const std::string &s, const std::string &part) {
  return s.find(part) != std::string::npos;
}

bool realDriverInstalled() {
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library)
    dlclose(library);
  return library != nullptr;
}

TEST(CudaDriverTest, NoDriverIsNoDevice) {
  if (realDriverInstalled())
    GTEST_SKIP() << "this machine has libcuda.so.1";
  ScopedDriverPath env(nullptr);
  std::unique_ptr<Driver> driver;
  Status status = Driver::load(driver);
  EXPECT_EQ(status.code(), LLMC_ERROR_NO_DEVICE);
  EXPECT_TRUE(startsWith(status.message(),
                         "no CUDA driver: cannot load libcuda.so.1 ("))
      << status.message();
  EXPECT_EQ(driver, nullptr);
}

TEST(CudaDriverTest, MissingOverrideIsNoDevice) {
  ScopedDriverPath env("/nonexistent/libcuda.so.1");
  std::unique_ptr<Driver> driver;
  Status status = Driver::load(driver);
  EXPECT_EQ(status.code(), LLMC_ERROR_NO_DEVICE);
  EXPECT_TRUE(
      startsWith(status.message(),
                 "no CUDA driver: cannot load /nonexistent/libcuda.so.1 ("))
      << status.message();
  EXPECT_TRUE(contains(status.message(), "No such file")) << status.message();
}

TEST(CudaDriverTest, DriverMissingMostEntryPoints) {
  ScopedDriverPath env(LLMC_FAKE_CUDA_MINIMAL_PATH);
  std::unique_ptr<Driver> driver;
  Status status = Driver::load(driver);
  EXPECT_EQ(status.code(), LLMC_ERROR_NO_DEVICE);
  // cuInit and cuDriverGetVersion are there; the next entry is not.
  EXPECT_EQ(status.message(),
            std::string("CUDA driver lacks cuGetErrorName: too old for this "
                        "runtime (") +
                LLMC_FAKE_CUDA_MINIMAL_PATH +
                " is CUDA 9.0; this runtime was built against CUDA 13.0)");
  EXPECT_EQ(driver, nullptr);
}

TEST(CudaDriverTest, DriverLackingAVersionedEntryPoint) {
  // A 12.4 driver has everything but cuCtxCreate_v4; the versioned names
  // (cuMemAlloc_v2, ...) are what is looked up, not the legacy ones.
  ScopedDriverPath env(LLMC_FAKE_CUDA_OLD_PATH);
  std::unique_ptr<Driver> driver;
  Status status = Driver::load(driver);
  EXPECT_EQ(status.code(), LLMC_ERROR_NO_DEVICE);
  EXPECT_TRUE(startsWith(status.message(),
                         "CUDA driver lacks cuCtxCreate_v4: too old for this "
                         "runtime ("))
      << status.message();
  EXPECT_TRUE(contains(status.message(), " is CUDA 12.4;")) << status.message();
}

TEST(CudaDriverTest, CuInitFailureIsNoDevice) {
  ScopedDriverPath env(LLMC_FAKE_CUDA_NO_DEVICE_PATH);
  std::unique_ptr<Driver> driver;
  Status status = Driver::load(driver);
  EXPECT_EQ(status.code(), LLMC_ERROR_NO_DEVICE);
  EXPECT_EQ(status.message(), "cuInit failed: CUDA_ERROR_NO_DEVICE (no "
                              "CUDA-capable device is detected)");
  EXPECT_EQ(driver, nullptr);
}

/// Loads the fake H100 driver, or fails the test.
std::unique_ptr<Driver> loadFakeH100() {
  ScopedDriverPath env(LLMC_FAKE_CUDA_H100_PATH);
  std::unique_ptr<Driver> driver;
  Status status = Driver::load(driver);
  EXPECT_TRUE(status.ok()) << status.message();
  return driver;
}

TEST(CudaDriverTest, LoadsAndResolvesWithCuGetProcAddress) {
  // Hold the fake ourselves, so that its counters survive the Driver.
  void *fake = dlopen(LLMC_FAKE_CUDA_H100_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(fake, nullptr) << dlerror();
  using Stats = void (*)(int *, int *, int *, cuuint64_t *);
  auto stats =
      reinterpret_cast<Stats>(dlsym(fake, "llmcFakeCudaProcAddressStats"));
  ASSERT_NE(stats, nullptr);
  int callsBefore = 0, minVersion = 0, maxVersion = 0;
  cuuint64_t flags = 0;
  stats(&callsBefore, &minVersion, &maxVersion, &flags);

  std::unique_ptr<Driver> driver = loadFakeH100();
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(driver->version(), 13000);
  EXPECT_EQ(driver->path(), LLMC_FAKE_CUDA_H100_PATH);
  // Every entry point went through cuGetProcAddress, for the ABIs of our
  // <cuda.h> and the legacy default stream.
  int calls = 0;
  stats(&calls, &minVersion, &maxVersion, &flags);
  EXPECT_EQ(calls - callsBefore, kEntryPoints);
  EXPECT_EQ(minVersion, CUDA_VERSION);
  EXPECT_EQ(maxVersion, CUDA_VERSION);
  EXPECT_EQ(flags, cuuint64_t(CU_GET_PROC_ADDRESS_LEGACY_STREAM));
  // The versioned entry points are the fake's own.
  EXPECT_EQ(reinterpret_cast<void *>(driver->cuMemAlloc),
            dlsym(fake, "cuMemAlloc_v2"));
  EXPECT_EQ(reinterpret_cast<void *>(driver->cuCtxCreate),
            dlsym(fake, "cuCtxCreate_v4"));
  driver.reset();
  dlclose(fake);
}

TEST(CudaDriverTest, QueriesTheFakeH100) {
  std::unique_ptr<Driver> driver = loadFakeH100();
  ASSERT_NE(driver, nullptr);
  std::vector<DeviceInfo> devices;
  Status status = queryDevices(*driver, devices);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(devices.size(), 1u);
  const DeviceInfo &h100 = devices[0];
  EXPECT_EQ(h100.ordinal, 0);
  EXPECT_EQ(h100.name, "Fake H100");
  EXPECT_EQ(h100.ccMajor, 9);
  EXPECT_EQ(h100.ccMinor, 0);
  EXPECT_EQ(h100.totalMemory, uint64_t(80) << 30);
  EXPECT_EQ(h100.smCount, 132);
  EXPECT_EQ(h100.maxSharedPerBlockOptin, 227 * 1024);
  EXPECT_EQ(h100.memoryClockKHz, 2619000);
  EXPECT_EQ(h100.busWidthBits, 5120);
  // 2 * 2.619 GHz * 640 bytes = 3352.32 GB/s.
  EXPECT_NEAR(h100.peakBandwidthGBs, 3352.32, 1e-6);
  EXPECT_EQ(targetName(h100), "sm_90a");
  std::string chosen;
  ASSERT_TRUE(pickCode(h100, {"cpu", "sm_90a"}, chosen).ok());
  EXPECT_EQ(chosen, "sm_90a");
}

TEST(CudaDriverTest, CuResultToStatus) {
  std::unique_ptr<Driver> driver = loadFakeH100();
  ASSERT_NE(driver, nullptr);

  Status oom =
      driver->toStatus(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc of 1234 bytes");
  EXPECT_EQ(oom.code(), LLMC_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(oom.message(), "cuMemAlloc of 1234 bytes failed: "
                           "CUDA_ERROR_OUT_OF_MEMORY (out of memory)");

  Status invalid =
      driver->toStatus(CUresult(::CUDA_ERROR_INVALID_VALUE), "cuMemsetD8");
  EXPECT_EQ(invalid.code(), LLMC_ERROR_INTERNAL);
  EXPECT_EQ(invalid.message(),
            "cuMemsetD8 failed: CUDA_ERROR_INVALID_VALUE (invalid argument)");

  Status unknown = driver->toStatus(CUresult(12345), "cuLaunchKernel");
  EXPECT_EQ(unknown.code(), LLMC_ERROR_INTERNAL);
  EXPECT_EQ(unknown.message(),
            "cuLaunchKernel failed: CUresult 12345 (unrecognized error code)");

  EXPECT_TRUE(driver->toStatus(CUDA_SUCCESS, "cuInit").ok());
}

/// Allocates through the macro; counts how often `what` was evaluated.
Status allocate(const Driver &driver, size_t bytes, int &whatEvaluations) {
  CUdeviceptr ptr = 0;
  auto what = [&] {
    ++whatEvaluations;
    return "cuMemAlloc of " + std::to_string(bytes) + " bytes";
  };
  int count = 0;
  LLMC_CU_RETURN_IF_ERROR(driver, cuDeviceGetCount(&count), what());
  LLMC_CU_RETURN_IF_ERROR(driver, cuMemAlloc(&ptr, bytes), what());
  return Status::success();
}

TEST(CudaDriverTest, ReturnIfErrorMacro) {
  std::unique_ptr<Driver> driver = loadFakeH100();
  ASSERT_NE(driver, nullptr);
  int whatEvaluations = 0;
  // The fake's cuMemAlloc always runs out of memory.
  Status status = allocate(*driver, 1234, whatEvaluations);
  EXPECT_EQ(status.code(), LLMC_ERROR_OUT_OF_MEMORY);
  EXPECT_TRUE(contains(status.message(), "CUDA_ERROR_OUT_OF_MEMORY"))
      << status.message();
  EXPECT_TRUE(contains(status.message(), "cuMemAlloc of 1234 bytes"))
      << status.message();
  // Only for the failing call.
  EXPECT_EQ(whatEvaluations, 1);
}

// On a machine with a GPU: the real driver loads and describes its devices.
TEST(CudaDriverTest, RealDriver) {
  if (!realDriverInstalled())
    GTEST_SKIP() << "no libcuda.so.1 on this machine";
  ScopedDriverPath env(nullptr);
  std::unique_ptr<Driver> driver;
  Status status = Driver::load(driver);
  if (!status.ok()) {
    EXPECT_EQ(status.code(), LLMC_ERROR_NO_DEVICE) << status.message();
    GTEST_SKIP() << status.message();
  }
  EXPECT_GE(driver->version(), 12000);
  std::vector<DeviceInfo> devices;
  status = queryDevices(*driver, devices);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_FALSE(devices.empty());
  for (const DeviceInfo &device : devices) {
    EXPECT_FALSE(device.name.empty());
    EXPECT_GE(device.ccMajor, 5);
    EXPECT_GT(device.totalMemory, 0u);
    EXPECT_GT(device.smCount, 0);
    EXPECT_GT(device.maxSharedPerBlockOptin, 0);
    std::cout << "device " << device.ordinal << ": " << device.name << ", "
              << targetName(device) << ", " << device.smCount << " SMs, "
              << (device.totalMemory >> 20) << " MiB, "
              << device.maxSharedPerBlockOptin << " B shared/block, "
              << device.memoryClockKHz << " kHz x " << device.busWidthBits
              << " bits = " << device.peakBandwidthGBs << " GB/s\n";
  }
  // A context on device 0 sees the memory cuDeviceTotalMem reported.
  size_t freeBytes = 0, totalBytes = 0;
  CUcontext context = nullptr;
  CUdevice device = 0;
  ASSERT_EQ(driver->cuDeviceGet(&device, 0), CUDA_SUCCESS);
  ASSERT_EQ(driver->cuDevicePrimaryCtxRetain(&context, device), CUDA_SUCCESS);
  ASSERT_EQ(driver->cuCtxSetCurrent(context), CUDA_SUCCESS);
  EXPECT_EQ(driver->cuMemGetInfo(&freeBytes, &totalBytes), CUDA_SUCCESS);
  EXPECT_EQ(totalBytes, devices[0].totalMemory);
  EXPECT_EQ(driver->cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  EXPECT_EQ(driver->cuDevicePrimaryCtxRelease(device), CUDA_SUCCESS);
}

} // namespace
} // namespace llmc::runtime::cuda
