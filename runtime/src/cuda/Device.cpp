//===- Device.cpp - the GPUs present and which plan code they run ---------===//

#include "runtime/src/cuda/Device.h"

#include "runtime/src/cuda/Driver.h"

#include <optional>
#include <string_view>

namespace llmc::runtime::cuda {

Status queryDevices(const Driver &driver, std::vector<DeviceInfo> &out) {
  int count = 0;
  LLMC_CU_RETURN_IF_ERROR(driver, cuDeviceGetCount(&count), "cuDeviceGetCount");
  std::vector<DeviceInfo> devices;
  for (int ordinal = 0; ordinal < count; ++ordinal) {
    const std::string which = " of device " + std::to_string(ordinal);
    CUdevice device = 0;
    LLMC_CU_RETURN_IF_ERROR(driver, cuDeviceGet(&device, ordinal),
                            "cuDeviceGet" + which);
    DeviceInfo info;
    info.ordinal = ordinal;
    char name[256] = {};
    LLMC_CU_RETURN_IF_ERROR(driver,
                            cuDeviceGetName(name, int(sizeof name), device),
                            "cuDeviceGetName" + which);
    name[sizeof name - 1] = '\0';
    info.name = name;
    size_t totalMemory = 0;
    LLMC_CU_RETURN_IF_ERROR(driver, cuDeviceTotalMem(&totalMemory, device),
                            "cuDeviceTotalMem" + which);
    info.totalMemory = totalMemory;

    const struct {
      CUdevice_attribute attribute;
      const char *name;
      int *value;
    } attributes[] = {
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
         "COMPUTE_CAPABILITY_MAJOR", &info.ccMajor},
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
         "COMPUTE_CAPABILITY_MINOR", &info.ccMinor},
        {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "MULTIPROCESSOR_COUNT",
         &info.smCount},
        {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
         "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN", &info.maxSharedPerBlockOptin},
        {CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, "MEMORY_CLOCK_RATE",
         &info.memoryClockKHz},
        {CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, "GLOBAL_MEMORY_BUS_WIDTH",
         &info.busWidthBits},
    };
    for (const auto &a : attributes)
      LLMC_CU_RETURN_IF_ERROR(
          driver, cuDeviceGetAttribute(a.value, a.attribute, device),
          std::string("cuDeviceGetAttribute(CU_DEVICE_ATTRIBUTE_") + a.name +
              ")" + which);
    info.peakBandwidthGBs =
        2.0 * info.memoryClockKHz * 1e3 * (info.busWidthBits / 8.0) / 1e9;
    devices.push_back(std::move(info));
  }
  out = std::move(devices);
  return Status::success();
}

namespace {

/// The compute capability as in target names: 90 for 9.0, 120 for 12.0.
int capability(const DeviceInfo &device) {
  return device.ccMajor * 10 + device.ccMinor;
}

/// A GPU target name: "sm_90a" is a cubin for 90, arch-specific;
/// "compute_80" PTX for 80.
struct GpuTarget {
  bool ptx = false;
  int capability = 0;
  bool archSpecific = false;
};

/// Parses sm_XY[a] and compute_XY[a]; anything else ("cpu") is not ours.
std::optional<GpuTarget> parseGpuTarget(std::string_view name) {
  GpuTarget target;
  if (name.starts_with("sm_")) {
    name.remove_prefix(3);
  } else if (name.starts_with("compute_")) {
    name.remove_prefix(8);
    target.ptx = true;
  } else {
    return std::nullopt;
  }
  if (name.ends_with('a')) {
    target.archSpecific = true;
    name.remove_suffix(1);
  }
  // Two or three digits: 80, 90, 100, 120.
  if (name.size() < 2 || name.size() > 3)
    return std::nullopt;
  for (char c : name) {
    if (c < '0' || c > '9')
      return std::nullopt;
    target.capability = target.capability * 10 + (c - '0');
  }
  return target;
}

} // namespace

std::string targetName(const DeviceInfo &device) {
  std::string name = "sm_" + std::to_string(capability(device));
  if (device.ccMajor == 9 && device.ccMinor == 0)
    name += 'a';
  return name;
}

Status pickCode(const DeviceInfo &device,
                const std::vector<std::string> &planTargets,
                std::string &chosen) {
  const int deviceCapability = capability(device);

  // 1. A cubin for exactly this architecture, the arch-specific one first.
  for (bool archSpecific : {true, false}) {
    for (const std::string &name : planTargets) {
      auto target = parseGpuTarget(name);
      if (target && !target->ptx && target->capability == deviceCapability &&
          target->archSpecific == archSpecific) {
        chosen = name;
        return Status::success();
      }
    }
  }

  // 2. The newest PTX the device can JIT: arch-specific PTX only for its own
  // architecture, and preferred there.
  const std::string *best = nullptr;
  GpuTarget bestTarget;
  for (const std::string &name : planTargets) {
    auto target = parseGpuTarget(name);
    if (!target || !target->ptx)
      continue;
    if (target->archSpecific ? target->capability != deviceCapability
                             : target->capability > deviceCapability)
      continue;
    if (!best || target->capability > bestTarget.capability ||
        (target->capability == bestTarget.capability && target->archSpecific &&
         !bestTarget.archSpecific)) {
      best = &name;
      bestTarget = *target;
    }
  }
  if (best) {
    chosen = *best;
    return Status::success();
  }

  std::string list;
  for (const std::string &name : planTargets)
    list += (list.empty() ? "" : ", ") + name;
  return Status(LLMC_ERROR_UNSUPPORTED,
                "plan has no code for sm_" + std::to_string(deviceCapability) +
                    "; recompile with --target " + targetName(device) +
                    (list.empty() ? std::string(" (the plan has no targets)")
                                  : " (the plan's targets: " + list + ")"));
}

} // namespace llmc::runtime::cuda
