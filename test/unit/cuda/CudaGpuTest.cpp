//===- CudaGpuTest.cpp - the CUDA backend on a real GPU, if there is one --===//
//
// A smoke test of the real driver path: a small kernel compiled with NVRTC
// for the device (and, on a device newer than 8.0, as sm_80 PTX for the
// driver to JIT) is launched through Plan.cuda by prefill and decode steps;
// its outputs, read back through the backend, and the KV cache it writes
// show that weights, step inputs, KVCache parameters, grids and decode
// graphs reach the GPU as KernelABI.h says. Skipped ("no CUDA device")
// wherever the driver does not load.
//
//===----------------------------------------------------------------------===//

#include "CudaTestSupport.h"
#include "TestPlan.h"

#include "runtime/src/cuda/CudaBackend.h"

#include <gtest/gtest.h>

#include <nvrtc.h>

namespace llmc::runtime::cuda::test {
namespace {

namespace P = llmc::plan;
using runtime::test::CodeBinarySpec;
using runtime::test::CudaSpec;
using runtime::test::findWeight;
using runtime::test::LaunchSpec;
using runtime::test::TempDir;
using runtime::test::TestPlan;
using runtime::test::tinyLlama;
using runtime::test::TinyLlama;

/// out[t] = table[tokens[t]][0] + 1000 positions[t] + 100000 slots[t]; the
/// KV cache row of (slots[t], positions[t]) gets t + i in its keys and
/// -(t + i) in its values (kv_heads 1, head_dim 4, f32).
constexpr const char *kSource = R"(
struct llmc_kv { void *keys; void *values; int capacity; float *key_scales; float *value_scales; };
extern "C" __global__ void smoke(int num_tokens, const int *tokens,
                                 const float *table, float *out,
                                 const int *positions, const int *slots,
                                 llmc_kv cache) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= num_tokens)
    return;
  out[t] = table[tokens[t] * 8] + 1000.0f * positions[t] +
           100000.0f * slots[t];
  int row = slots[t] * cache.capacity + positions[t] % cache.capacity;
  float *k = (float *)cache.keys + row * 4;
  float *v = (float *)cache.values + row * 4;
  for (int i = 0; i < 4; ++i) {
    k[i] = float(t + i);
    v[i] = -float(t + i);
  }
}
)";

/// Compiles kSource for `target` ("sm_90a"); false (with `error`) if NVRTC
/// cannot.
bool compile(const std::string &target, CodeBinarySpec &out,
             std::string &error) {
  nvrtcProgram program;
  if (nvrtcCreateProgram(&program, kSource, "smoke.cu", 0, nullptr, nullptr) !=
      NVRTC_SUCCESS) {
    error = "nvrtcCreateProgram failed";
    return false;
  }
  std::string arch = "-arch=" + target;
  const char *options[] = {arch.c_str()};
  nvrtcResult result = nvrtcCompileProgram(program, 1, options);
  bool ok = result == NVRTC_SUCCESS;
  size_t size = 0;
  if (ok && nvrtcGetCUBINSize(program, &size) == NVRTC_SUCCESS) {
    out.cubin.resize(size);
    ok = nvrtcGetCUBIN(program, reinterpret_cast<char *>(out.cubin.data())) ==
         NVRTC_SUCCESS;
  }
  if (ok && nvrtcGetPTXSize(program, &size) == NVRTC_SUCCESS) {
    out.ptx.resize(size); // NUL included
    ok = nvrtcGetPTX(program, reinterpret_cast<char *>(out.ptx.data())) ==
         NVRTC_SUCCESS;
  }
  if (!ok)
    error = std::string("NVRTC cannot compile for ") + target + ": " +
            nvrtcGetErrorString(result);
  nvrtcDestroyProgram(&program);
  out.target = target;
  out.symbol = "smoke";
  return ok && !out.cubin.empty() && !out.ptx.empty();
}

class CudaGpuTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::unique_ptr<Driver> driver;
    Status s = Driver::load(driver);
    if (!s.ok())
      GTEST_SKIP() << "no CUDA device: " << s.message();
    std::vector<DeviceInfo> devices;
    s = queryDevices(*driver, devices);
    if (!s.ok() || devices.empty())
      GTEST_SKIP() << "no CUDA device";
    device_ = devices[0];
  }

  /// tinyLlama (max_tokens 4, max_seq_len 16) whose kernel 0 of both
  /// programs launches `smoke`, compiled for `target`.
  bool makePlan(const std::string &target, TestPlan &t) {
    t = tinyLlama(4, 16);
    CodeBinarySpec binary;
    std::string error;
    if (!compile(target, binary, error)) {
      ADD_FAILURE() << error;
      return false;
    }
    CudaSpec cuda;
    cuda.targets = {target};
    cuda.entries = {{"smoke", {binary}}};
    t.cuda = cuda;
    t.targets.push_back(target);
    out_ = t.arena(1);
    LaunchSpec launch;
    launch.args = {TestPlan::input(0), t.prefill[0][0].inputs[1], out_,
                   TestPlan::input(1), TestPlan::input(2),        t.cache(0)};
    launch.grid = {1};
    launch.block = 32;
    launch.tokensPerBlock = 32;
    t.prefillLaunches = {{launch}};
    t.decodeLaunches = {{launch}};
    return true;
  }

  /// Runs steps on a backend created from `t` and checks each output.
  void runSteps(const TestPlan &t, const std::string &expectedCode) {
    t.write(path_);
    std::unique_ptr<PlanFile> file;
    Status s = PlanFile::open(path_, file);
    ASSERT_TRUE(s.ok()) << s.message();
    KvPages kv;
    s = KvPages::create(*file, {2, 16}, 0, kv);
    ASSERT_TRUE(s.ok()) << s.message();
    std::unique_ptr<CudaBackend> backend;
    s = CudaBackend::create(*file, {2, 16}, kv, 0, backend);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(backend->code(), expectedCode);
    const std::vector<float> &table =
        findWeight(t, "model.embed_tokens.weight").values;
    auto expected = [&](int32_t token, int32_t position, int32_t slot) {
      return table[size_t(token) * TinyLlama::kHidden] +
             1000.0f * float(position) + 100000.0f * float(slot);
    };
    auto check = [&](const P::Program &program, std::vector<int32_t> tokens,
                     std::vector<int32_t> positions,
                     std::vector<int32_t> slots) {
      int64_t n = int64_t(tokens.size());
      Status r = backend->run(
          program, {n, tokens.data(), positions.data(), slots.data()});
      ASSERT_TRUE(r.ok()) << r.message();
      std::vector<float> got(tokens.size());
      r = backend->readRows(out_, 0, n, got.data());
      ASSERT_TRUE(r.ok()) << r.message();
      for (size_t i = 0; i < tokens.size(); ++i)
        EXPECT_FLOAT_EQ(got[i], expected(tokens[i], positions[i], slots[i]))
            << "token " << i;
    };
    const P::Program &prefill = *file->plan()->prefill();
    const P::Program &decode = *file->plan()->decode();
    check(prefill, {3, 1, 4}, {0, 1, 2}, {1, 1, 1});
    check(decode, {5}, {3}, {1});
    check(decode, {9}, {4}, {1}); // the graph replayed on new inputs
    check(decode, {2, 6}, {5, 0}, {1, 0});
    EXPECT_EQ(backend->decodeGraphs(), 2u);

    // The cache: slot 1 rows 0..5 written by tokens t = 0, 1, 2 (prefill),
    // then 0 (each decode step's first token).
    std::unique_ptr<Driver> driver;
    ASSERT_TRUE(Driver::load(driver).ok());
    CUdevice device = 0;
    CUcontext context = nullptr;
    ASSERT_EQ(driver->cuDeviceGet(&device, 0), CUDA_SUCCESS);
    ASSERT_EQ(driver->cuDevicePrimaryCtxRetain(&context, device), CUDA_SUCCESS);
    ASSERT_EQ(driver->cuCtxPushCurrent(context), CUDA_SUCCESS);
    LLMCKvArg cache = backend->cache(0);
    EXPECT_EQ(cache.capacity, 16);
    std::vector<float> keys(2 * 16 * 4), values(keys.size());
    EXPECT_EQ(driver->cuMemcpyDtoH(keys.data(), CUdeviceptr(cache.keys),
                                   keys.size() * sizeof(float)),
              CUDA_SUCCESS);
    EXPECT_EQ(driver->cuMemcpyDtoH(values.data(), CUdeviceptr(cache.values),
                                   values.size() * sizeof(float)),
              CUDA_SUCCESS);
    CUcontext popped = nullptr;
    EXPECT_EQ(driver->cuCtxPopCurrent(&popped), CUDA_SUCCESS);
    EXPECT_EQ(driver->cuDevicePrimaryCtxRelease(device), CUDA_SUCCESS);
    const int writer[] = {0, 1, 2, 0, 0, 0}; // t of the token at position p
    for (int p = 0; p < 6; ++p)
      for (int i = 0; i < 4; ++i) {
        size_t at = size_t((1 * 16 + p) * 4 + i);
        EXPECT_EQ(keys[at], float(writer[p] + i)) << p << ", " << i;
        EXPECT_EQ(values[at], -float(writer[p] + i)) << p << ", " << i;
      }
    // Slot 0 position 0 came from the last step's token 1; the rest of
    // slot 0 is still zero.
    EXPECT_EQ(keys[0], 1.0f);
    EXPECT_EQ(keys[4], 0.0f);
  }

  DeviceInfo device_;
  TempDir dir_;
  std::string path_ = dir_.file("smoke.plan");
  P::Operand out_;
};

TEST_F(CudaGpuTest, RunsACubinForTheDevice) {
  TestPlan t;
  std::string target = targetName(device_);
  ASSERT_TRUE(makePlan(target, t));
  runSteps(t, target);
}

TEST_F(CudaGpuTest, JitsPtxForANewerDevice) {
  if (device_.ccMajor * 10 + device_.ccMinor <= 80)
    GTEST_SKIP() << "the device is not newer than sm_80";
  TestPlan t;
  ASSERT_TRUE(makePlan("sm_80", t));
  runSteps(t, "compute_80");
}

} // namespace
} // namespace llmc::runtime::cuda::test
