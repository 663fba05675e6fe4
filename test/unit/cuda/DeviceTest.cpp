//===- DeviceTest.cpp - target names and the choice of plan code ----------===//

#include "runtime/src/cuda/Device.h"

#include <gtest/gtest.h>

namespace llmc::runtime::cuda {
namespace {

DeviceInfo device(int major, int minor) {
  DeviceInfo info;
  info.ccMajor = major;
  info.ccMinor = minor;
  return info;
}

/// pickCode's choice, or "error: <message>".
std::string pick(const DeviceInfo &device,
                 const std::vector<std::string> &planTargets) {
  std::string chosen;
  Status status = pickCode(device, planTargets, chosen);
  if (!status.ok()) {
    EXPECT_EQ(status.code(), LLMC_ERROR_UNSUPPORTED);
    return "error: " + status.message();
  }
  return chosen;
}

TEST(CudaDeviceTest, TargetName) {
  EXPECT_EQ(targetName(device(8, 0)), "sm_80");
  EXPECT_EQ(targetName(device(8, 6)), "sm_86");
  EXPECT_EQ(targetName(device(8, 9)), "sm_89");
  EXPECT_EQ(targetName(device(9, 0)), "sm_90a");
  EXPECT_EQ(targetName(device(10, 0)), "sm_100");
  EXPECT_EQ(targetName(device(12, 0)), "sm_120");
}

TEST(CudaDeviceTest, PicksTheExactCubin) {
  const DeviceInfo hopper = device(9, 0);
  EXPECT_EQ(pick(hopper, {"sm_90a"}), "sm_90a");
  EXPECT_EQ(pick(hopper, {"sm_90"}), "sm_90");
  EXPECT_EQ(pick(hopper, {"cpu", "sm_90", "sm_90a"}), "sm_90a");
  EXPECT_EQ(pick(hopper, {"compute_90", "sm_90"}), "sm_90");
  EXPECT_EQ(pick(device(8, 9), {"sm_80", "sm_89", "sm_90a"}), "sm_89");
  EXPECT_EQ(pick(device(12, 0), {"sm_100", "sm_120"}), "sm_120");
}

TEST(CudaDeviceTest, FallsBackToPtx) {
  const DeviceInfo hopper = device(9, 0);
  EXPECT_EQ(pick(hopper, {"sm_80", "compute_80"}), "compute_80");
  EXPECT_EQ(pick(device(8, 9), {"compute_80"}), "compute_80");
  // The newest the device can JIT.
  EXPECT_EQ(pick(device(8, 9), {"compute_80", "compute_86", "compute_90"}),
            "compute_86");
  // Arch-specific PTX only on its own architecture, and preferred there.
  EXPECT_EQ(pick(hopper, {"compute_90", "compute_90a"}), "compute_90a");
  EXPECT_EQ(pick(device(10, 0), {"compute_90a", "compute_80"}), "compute_80");
}

TEST(CudaDeviceTest, NoCodeForTheDevice) {
  EXPECT_EQ(pick(device(9, 0), {"sm_80"}),
            "error: plan has no code for sm_90; recompile with --target "
            "sm_90a (the plan's targets: sm_80)");
  // An sm_80 cubin would run on 8.9, but was sized for sm_80's limits.
  EXPECT_EQ(pick(device(8, 9), {"sm_80"}),
            "error: plan has no code for sm_89; recompile with --target sm_89 "
            "(the plan's targets: sm_80)");
  // sm_90a runs on 9.0 only; PTX newer than the device does not run.
  EXPECT_EQ(pick(device(10, 0), {"sm_90a", "compute_120"}),
            "error: plan has no code for sm_100; recompile with --target "
            "sm_100 (the plan's targets: sm_90a, compute_120)");
  EXPECT_EQ(pick(device(8, 0), {"compute_90a"}),
            "error: plan has no code for sm_80; recompile with --target sm_80 "
            "(the plan's targets: compute_90a)");
  EXPECT_EQ(pick(device(9, 0), {"cpu"}),
            "error: plan has no code for sm_90; recompile with --target "
            "sm_90a (the plan's targets: cpu)");
  EXPECT_EQ(pick(device(9, 0), {}),
            "error: plan has no code for sm_90; recompile with --target "
            "sm_90a (the plan has no targets)");
}

TEST(CudaDeviceTest, IgnoresNamesThatAreNotTargets) {
  for (const char *name :
       {"sm_", "sm_9", "sm_9000", "sm_90b", "compute_", "compute_x0", "sm_+9",
        "compute_-9", "gfx90a", "SM_90"}) {
    std::string result = pick(device(9, 0), {name});
    EXPECT_EQ(result.rfind("error: plan has no code for sm_90", 0), 0u)
        << name << " -> " << result;
  }
}

} // namespace
} // namespace llmc::runtime::cuda
