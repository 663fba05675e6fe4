//===- Device.h - the GPUs present and which plan code they run -*- C++ -*-===//
//
// queryDevices describes every device the driver sees; pickCode chooses,
// among a plan's targets, the code one device runs.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_CUDA_DEVICE_H
#define LLMC_RUNTIME_SRC_CUDA_DEVICE_H

#include "runtime/src/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llmc::runtime::cuda {

class Driver;

struct DeviceInfo {
  int ordinal = 0;
  std::string name; // "NVIDIA H100 80GB HBM3"
  int ccMajor = 0;  // compute capability
  int ccMinor = 0;
  uint64_t totalMemory = 0; // bytes
  int smCount = 0;
  int maxSharedPerBlockOptin = 0; // bytes, with cuFuncSetAttribute's opt-in
  int memoryClockKHz = 0;         // peak
  int busWidthBits = 0;
  /// Peak DRAM bandwidth in GB/s (1e9 bytes): two transfers per memory clock
  /// (DDR) over the bus, 2 * clock * busWidth / 8. Decode steps are bound by
  /// it; 0 where the driver reports no clock.
  double peakBandwidthGBs = 0;
};

/// Describes every device, by ordinal. The driver is loaded (cuInit done).
Status queryDevices(const Driver &driver, std::vector<DeviceInfo> &out);

/// The compiler target (`llmc compile --target`) that fits the device best:
/// "sm_90a" for compute capability 9.0 (the Hopper-specific features, wgmma
/// and TMA, are there), otherwise "sm_XY": "sm_80", "sm_89", "sm_120".
std::string targetName(const DeviceInfo &device);

/// Chooses, among `planTargets` (the plan's target names), the code the
/// device runs, in this order:
///  1. a cubin for exactly its architecture: "sm_XYa" or "sm_XY" for an X.Y
///     device (both "sm_90a" and "sm_90" for 9.0, the 'a' one first);
///  2. PTX for the highest compute capability at most the device's,
///     "compute_XY" (the driver JIT-compiles it; "compute_XYa" only for an
///     X.Y device).
/// A cubin for a lower minor version would run too, but the plan's kernels
/// were sized against its target's limits (sm_80 allows 163 KiB of shared
/// memory per block, an 8.9 device 99 KiB), so only exact matches count.
/// Fails with LLMC_ERROR_UNSUPPORTED "plan has no code for sm_XY; recompile
/// with --target <targetName(device)> (...)".
Status pickCode(const DeviceInfo &device,
                const std::vector<std::string> &planTargets,
                std::string &chosen);

} // namespace llmc::runtime::cuda

#endif // LLMC_RUNTIME_SRC_CUDA_DEVICE_H
