//===- NVRTCTest.cpp - the NVRTC wrapper on real kernels ------------------===//
//
// Every test compiles with the installed NVRTC (no GPU needed) and checks
// what came out: ELF cubins for the right machine, PTX for the right target,
// and ptxas's numbers for registers, shared memory and spills.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/NVRTC.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>
#include <nvrtc.h>

#include <regex>

using namespace llmc::codegen::cuda;

namespace {

constexpr const char *kVectorAndTile = R"cu(
extern "C" __global__ void vadd(const float *a, const float *b, float *c,
                                int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    c[i] = a[i] + b[i];
}
extern "C" __global__ void tiled(const float *in, float *out) {
  __shared__ float tile[256];
  tile[threadIdx.x] = in[threadIdx.x];
  __syncthreads();
  out[threadIdx.x] = tile[255 - threadIdx.x];
}
)cu";

// 64 accumulators live across a loop: far more than 24 registers.
constexpr const char *kRegisterHungry = R"cu(
extern "C" __global__ void hungry(const float *in, float *out, int n) {
  float acc[64];
#pragma unroll
  for (int j = 0; j < 64; ++j)
    acc[j] = in[j * n + threadIdx.x];
  for (int k = 0; k < n; ++k) {
#pragma unroll
    for (int j = 0; j < 64; ++j)
      acc[j] = acc[j] * acc[(j + 1) % 64] + in[k];
  }
#pragma unroll
  for (int j = 0; j < 64; ++j)
    out[j * n + threadIdx.x] = acc[j];
}
)cu";

Target target(llvm::StringRef name) {
  llvm::Expected<Target> t = parseTarget(name);
  EXPECT_TRUE(bool(t)) << llvm::toString(t.takeError());
  return t ? *t : Target{};
}

/// Compiles and fails the test with NVRTC's message if that fails.
CompiledKernel compileOrFail(const KernelSource &kernel, const Target &t,
                             llvm::ArrayRef<std::string> extra = {}) {
  llvm::Expected<CompiledKernel> compiled = compileKernel(kernel, t, extra);
  EXPECT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
  return compiled ? std::move(*compiled) : CompiledKernel{};
}

std::string errorOf(llvm::Error err) {
  EXPECT_TRUE(bool(err)) << "expected an error";
  return llvm::toString(std::move(err));
}

/// A fresh directory, removed with the test.
struct TempDir {
  llvm::SmallString<128> path;
  TempDir() {
    std::error_code ec =
        llvm::sys::fs::createUniqueDirectory("llmc-nvrtc-test", path);
    EXPECT_FALSE(ec) << ec.message();
  }
  ~TempDir() { llvm::sys::fs::remove_directories(path); }
};

bool isCudaElf(const std::vector<uint8_t> &cubin) {
  // ELF magic, 64-bit, and e_machine (bytes 18-19, little endian) EM_CUDA.
  return cubin.size() > 20 && cubin[0] == 0x7f && cubin[1] == 'E' &&
         cubin[2] == 'L' && cubin[3] == 'F' && cubin[4] == 2 &&
         (cubin[18] | cubin[19] << 8) == 190;
}

TEST(ParseTarget, AcceptsKnownArchitectures) {
  Target sm80 = target("sm_80");
  EXPECT_EQ(sm80.name, "sm_80");
  EXPECT_EQ(sm80.major, 8);
  EXPECT_EQ(sm80.minor, 0);
  EXPECT_FALSE(sm80.archSpecific);

  Target sm90a = target("sm_90a");
  EXPECT_EQ(sm90a.major, 9);
  EXPECT_EQ(sm90a.minor, 0);
  EXPECT_TRUE(sm90a.archSpecific);

  Target sm86 = target("sm_86");
  EXPECT_EQ(sm86.major, 8);
  EXPECT_EQ(sm86.minor, 6);

  Target sm120 = target("sm_120");
  EXPECT_EQ(sm120.major, 12);
  EXPECT_EQ(sm120.minor, 0);
  EXPECT_FALSE(sm120.archSpecific);
}

TEST(ParseTarget, NVRTC13SupportsEveryKnownTarget) {
  EXPECT_EQ(acceptedTargets(),
            (std::vector<std::string>{"sm_80", "sm_86", "sm_89", "sm_90",
                                      "sm_90a", "sm_100", "sm_120"}));
}

TEST(ParseTarget, RejectsOthersListingTheAccepted) {
  for (llvm::StringRef bad : {"sm_75x", "gfx90a", "", "sm_75", "SM_80"}) {
    std::string message = errorOf(parseTarget(bad).takeError());
    EXPECT_NE(message.find(("'" + bad + "'").str()), std::string::npos)
        << message;
    EXPECT_NE(message.find("accepted targets: sm_80, sm_86, sm_89, sm_90, "
                           "sm_90a, sm_100, sm_120"),
              std::string::npos)
        << message;
  }
}

TEST(NVRTC, VersionIsMajorDotMinor) {
  EXPECT_TRUE(std::regex_match(nvrtcVersion(), std::regex("[0-9]+\\.[0-9]+")))
      << nvrtcVersion();
}

// A report as NVRTC 13.0 prints it for sm_80, trimmed: a mangled kernel, a
// non-inlined device function, shared memory, cmem[0] and spills.
TEST(PtxasReport, ParsesEveryField) {
  const char *log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Function properties for _Z6helperf\n"
      "ptxas         .     16 bytes stack frame, 4 bytes spill stores, 4 "
      "bytes spill loads\n"
      "ptxas info    : Compiling entry function '_ZN3foo3barEPf' for "
      "'sm_80'\n"
      "ptxas info    : Function properties for _ZN3foo3barEPf\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes "
      "spill loads\n"
      "ptxas info    : Used 8 registers, used 0 barriers, 360 bytes cmem[0]\n"
      "ptxas info    : Compiling entry function 'hungry' for 'sm_80'\n"
      "ptxas info    : Function properties for hungry\n"
      "ptxas         .     560 bytes stack frame, 812 bytes spill stores, 844 "
      "bytes spill loads\n"
      "ptxas info    : Used 24 registers, used 1 barriers, 600 bytes "
      "cumulative stack size, 1024 bytes smem, 372 bytes cmem[0], 8 bytes "
      "cmem[2]\n";
  std::map<std::string, ResourceUsage> usage = parsePtxasReport(log);
  ASSERT_EQ(usage.size(), 2u);
  ASSERT_TRUE(usage.count("foo::bar(float*)"));
  const ResourceUsage &bar = usage["foo::bar(float*)"];
  EXPECT_EQ(bar.registers, 8);
  EXPECT_EQ(bar.constantBytes, 360);
  EXPECT_EQ(bar.spillStoreBytes, 0);
  EXPECT_EQ(bar.localBytes, 0);

  ASSERT_TRUE(usage.count("hungry"));
  const ResourceUsage &hungry = usage["hungry"];
  EXPECT_EQ(hungry.registers, 24);
  EXPECT_EQ(hungry.spillStoreBytes, 812);
  EXPECT_EQ(hungry.spillLoadBytes, 844);
  EXPECT_EQ(hungry.staticSharedBytes, 1024);
  EXPECT_EQ(hungry.constantBytes, 372);
  EXPECT_EQ(hungry.localBytes, 600); // the cumulative stack, not the frame
}

TEST(CompileKernel, VectorAddAndSharedTileForSm80AndSm90a) {
  KernelSource kernel{"vector_and_tile", kVectorAndTile, {"vadd", "tiled"}};
  for (llvm::StringRef name : {"sm_80", "sm_90a"}) {
    SCOPED_TRACE(name.str());
    CompiledKernel out = compileOrFail(kernel, target(name));
    EXPECT_EQ(out.name, "vector_and_tile");
    EXPECT_EQ(out.target.name, name);
    EXPECT_TRUE(isCudaElf(out.cubin)) << out.cubin.size() << " bytes";
    EXPECT_NE(out.ptx.find(".version "), std::string::npos);
    EXPECT_NE(out.ptx.find(".target " + name.str() + "\n"), std::string::npos);
    EXPECT_NE(out.ptx.find(".entry vadd("), std::string::npos);
    EXPECT_EQ(out.ptx.back(), '\n'); // no trailing NUL kept

    EXPECT_EQ(out.symbols["vadd"], "vadd");
    EXPECT_EQ(out.symbols["tiled"], "tiled");
    ASSERT_EQ(out.usage.size(), 2u) << out.log;
    const ResourceUsage &vadd = out.usage["vadd"];
    const ResourceUsage &tiled = out.usage["tiled"];
    EXPECT_GT(vadd.registers, 0);
    EXPECT_EQ(vadd.staticSharedBytes, 0);
    EXPECT_EQ(tiled.staticSharedBytes, 1024) << out.log;
    for (const ResourceUsage &u : {vadd, tiled}) {
      EXPECT_GT(u.registers, 0);
      EXPECT_EQ(u.spillStoreBytes, 0);
      EXPECT_EQ(u.spillLoadBytes, 0);
      EXPECT_EQ(u.localBytes, 0);
    }
    // ptxas reports the parameter bank for sm_8x only.
    if (name == "sm_80") {
      EXPECT_GT(vadd.constantBytes, 0) << out.log;
    }
  }
}

TEST(CompileKernel, CxxEntryPointMapsToItsMangledSymbol) {
  KernelSource kernel{"scale",
                      R"cu(
namespace k {
template <int N> __global__ void scale(float *x) { x[threadIdx.x] *= N; }
}
)cu",
                      {"k::scale<4>"}};
  CompiledKernel out = compileOrFail(kernel, target("sm_89"));
  EXPECT_EQ(out.symbols["k::scale<4>"], "_ZN1k5scaleILi4EEEvPf");
  ASSERT_TRUE(out.usage.count("void k::scale<4>(float*)")) << out.log;
  EXPECT_GT(out.usage["void k::scale<4>(float*)"].registers, 0);
  EXPECT_NE(out.ptx.find(".target sm_89"), std::string::npos);
}

TEST(CompileKernel, EntryPointMustBeAKernel) {
  KernelSource notAKernel{"device_only",
                          "extern \"C\" __device__ float twice(float x) "
                          "{ return 2 * x; }\n"
                          "extern \"C\" __global__ void k(float *x) "
                          "{ x[0] = twice(x[0]); }\n",
                          {"twice"}};
  std::string message =
      errorOf(compileKernel(notAKernel, target("sm_80")).takeError());
  EXPECT_NE(message.find("'device_only'"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot form address of a non-__global__ function"),
            std::string::npos)
      << message;

  KernelSource missing{"missing", kVectorAndTile, {"vsub"}};
  message = errorOf(compileKernel(missing, target("sm_80")).takeError());
  EXPECT_NE(message.find("'missing'"), std::string::npos) << message;
  EXPECT_NE(message.find("vsub"), std::string::npos) << message;
}

// Since CUDA 13 <cuda/std/...> and <cub/...> are only under include/cccl.
TEST(CompileKernel, FindsCcclHeaders) {
  KernelSource kernel{"block_sum",
                      R"cu(
#include <cub/block/block_reduce.cuh>
#include <cuda/std/cmath>
extern "C" __global__ void block_sum(const float *in, float *out) {
  using Reduce = cub::BlockReduce<float, 128>;
  __shared__ typename Reduce::TempStorage storage;
  float v = cuda::std::sqrt(in[blockIdx.x * 128 + threadIdx.x]);
  float sum = Reduce(storage).Sum(v);
  if (threadIdx.x == 0)
    out[blockIdx.x] = sum;
}
)cu",
                      {"block_sum"}};
  CompiledKernel out = compileOrFail(kernel, target("sm_80"));
  EXPECT_TRUE(isCudaElf(out.cubin));
  EXPECT_GT(out.usage["block_sum"].staticSharedBytes, 0) << out.log;
}

TEST(CompileKernel, IncludeDirectoryFromTheEnvironment) {
  // A kernel that needs the toolkit's headers and CCCL's.
  KernelSource kernel{"half_sum",
                      R"cu(
#include <cuda_fp16.h>
#include <cuda/std/cmath>
extern "C" __global__ void half_sum(const __half *in, float *out) {
  out[threadIdx.x] = cuda::std::fabs(__half2float(in[threadIdx.x]));
}
)cu",
                      {"half_sum"}};
  // An empty directory: the headers are not found, and the log says which.
  TempDir empty;
  ::setenv("LLMC_CUDA_INCLUDE", empty.path.c_str(), 1);
  std::string message =
      errorOf(compileKernel(kernel, target("sm_80")).takeError());
  EXPECT_NE(message.find("cuda_fp16.h"), std::string::npos) << message;
  // The build's toolkit named through the variable (and its cccl/ found).
  ::setenv("LLMC_CUDA_INCLUDE", LLMC_TEST_CUDA_INCLUDE, 1);
  llvm::Expected<CompiledKernel> compiled =
      compileKernel(kernel, target("sm_80"));
  ::unsetenv("LLMC_CUDA_INCLUDE");
  ASSERT_TRUE(bool(compiled)) << errorOf(compiled.takeError());
  EXPECT_TRUE(isCudaElf(compiled->cubin));
}

TEST(CompileKernel, SyntaxErrorGivesLogAndDumpsSource) {
  TempDir dir;
  std::string source =
      "extern \"C\" __global__ void broken(float *x) { x[0] = 1.0f +; }\n";
  KernelSource kernel{"broken_kernel", source, {"broken"}};
  std::string message =
      errorOf(compileKernel(kernel, target("sm_80"), {}, dir.path).takeError());
  EXPECT_NE(message.find("'broken_kernel'"), std::string::npos) << message;
  EXPECT_NE(message.find("sm_80"), std::string::npos) << message;
  // NVRTC's own diagnostic, with the file name it was given.
  EXPECT_NE(message.find("broken_kernel.cu(1): error: expected an expression"),
            std::string::npos)
      << message;

  std::string dumped = (dir.path + "/broken_kernel.cu").str();
  EXPECT_NE(message.find("source written to " + dumped), std::string::npos)
      << message;
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
      llvm::MemoryBuffer::getFile(dumped);
  ASSERT_TRUE(bool(file)) << dumped;
  EXPECT_EQ((*file)->getBuffer(), source);

  // Without a dump directory nothing is written and no path is named.
  message = errorOf(compileKernel(kernel, target("sm_80")).takeError());
  EXPECT_NE(message.find("error: expected an expression"), std::string::npos);
  EXPECT_EQ(message.find("source written"), std::string::npos) << message;
}

TEST(CompileKernel, DumpNameCannotEscapeTheDirectory) {
  TempDir dir;
  KernelSource kernel{"../up/and away", "this is not C++", {}};
  std::string message =
      errorOf(compileKernel(kernel, target("sm_80"), {}, dir.path).takeError());
  std::string dumped = (dir.path + "/.._up_and_away.cu").str();
  EXPECT_NE(message.find("source written to " + dumped), std::string::npos)
      << message;
  EXPECT_TRUE(llvm::sys::fs::exists(dumped));
}

TEST(CompileKernel, ReportsForcedSpills) {
  KernelSource kernel{"hungry", kRegisterHungry, {"hungry"}};
  // 24 is ptxas's floor for sm_80; it raises anything lower with a warning.
  CompiledKernel out =
      compileOrFail(kernel, target("sm_80"), {"-maxrregcount=24"});
  const ResourceUsage &u = out.usage["hungry"];
  EXPECT_EQ(u.registers, 24) << out.log;
  EXPECT_GT(u.spillStoreBytes, 0) << out.log;
  EXPECT_GT(u.spillLoadBytes, 0) << out.log;
  EXPECT_GE(u.localBytes, u.spillStoreBytes / 2) << out.log;
}

// The wrapper compiles once per target and keeps the PTX of that compile:
// it must be what a compile for the virtual architecture gives.
TEST(CompileKernel, PtxIsTheVirtualArchitecturePtx) {
  KernelSource kernel{"vector_and_tile", kVectorAndTile, {}};
  CompiledKernel out = compileOrFail(kernel, target("sm_90a"));

  nvrtcProgram program;
  ASSERT_EQ(nvrtcCreateProgram(&program, kVectorAndTile, "vector_and_tile.cu",
                               0, nullptr, nullptr),
            NVRTC_SUCCESS);
  const char *options[] = {"-arch=compute_90a", "-std=c++17",
                           "-default-device"};
  ASSERT_EQ(nvrtcCompileProgram(program, 3, options), NVRTC_SUCCESS);
  size_t size = 0;
  ASSERT_EQ(nvrtcGetPTXSize(program, &size), NVRTC_SUCCESS);
  std::string ptx(size, '\0');
  ASSERT_EQ(nvrtcGetPTX(program, ptx.data()), NVRTC_SUCCESS);
  nvrtcDestroyProgram(&program);
  ptx.resize(size - 1);
  EXPECT_EQ(out.ptx, ptx);
}

KernelSource elementwise(const std::string &name, const char *op) {
  return {name,
          "extern \"C\" __global__ void " + name +
              "(float *x) { x[threadIdx.x] = " + op + "; }\n",
          {name}};
}

TEST(CompileAll, ResultsAreKernelMajorInInputOrder) {
  std::vector<KernelSource> kernels = {
      elementwise("twice", "2 * x[threadIdx.x]"),
      elementwise("square", "x[threadIdx.x] * x[threadIdx.x]"),
      elementwise("negate", "-x[threadIdx.x]")};
  std::vector<Target> targets = {target("sm_80"), target("sm_90")};
  llvm::Expected<std::vector<CompiledKernel>> all =
      compileAll(kernels, targets, /*jobs=*/2);
  ASSERT_TRUE(bool(all)) << llvm::toString(all.takeError());
  ASSERT_EQ(all->size(), 6u);
  for (size_t i = 0; i < all->size(); ++i) {
    const CompiledKernel &out = (*all)[i];
    const std::string &kernel = kernels[i / 2].name;
    const std::string &arch = targets[i % 2].name;
    EXPECT_EQ(out.name, kernel) << i;
    EXPECT_EQ(out.target.name, arch) << i;
    EXPECT_TRUE(isCudaElf(out.cubin)) << i;
    EXPECT_NE(out.ptx.find(".target " + arch), std::string::npos) << i;
    EXPECT_NE(out.ptx.find(".entry " + kernel + "("), std::string::npos) << i;
    EXPECT_TRUE(out.usage.count(kernel)) << i;
  }
}

TEST(CompileAll, EveryFailureIsReportedInInputOrder) {
  TempDir dir;
  std::vector<KernelSource> kernels = {
      elementwise("fine", "x[threadIdx.x] + 1"),
      elementwise("broken_first", "x[threadIdx.x] +"),
      elementwise("broken_second", "undeclared")};
  llvm::Expected<std::vector<CompiledKernel>> all =
      compileAll(kernels, {target("sm_80")}, /*jobs=*/0, dir.path);
  std::string message = errorOf(all.takeError());
  size_t first = message.find("kernel 'broken_first'");
  size_t second = message.find("kernel 'broken_second'");
  ASSERT_NE(first, std::string::npos) << message;
  ASSERT_NE(second, std::string::npos) << message;
  EXPECT_LT(first, second) << message;
  EXPECT_NE(message.find("identifier \"undeclared\" is undefined"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("'fine'"), std::string::npos) << message;
  EXPECT_TRUE(llvm::sys::fs::exists(dir.path + "/broken_first.cu"));
  EXPECT_TRUE(llvm::sys::fs::exists(dir.path + "/broken_second.cu"));
  EXPECT_FALSE(llvm::sys::fs::exists(dir.path + "/fine.cu"));
}

TEST(CompileAll, NothingToCompile) {
  llvm::Expected<std::vector<CompiledKernel>> all =
      compileAll({}, {target("sm_80")});
  ASSERT_TRUE(bool(all)) << llvm::toString(all.takeError());
  EXPECT_TRUE(all->empty());
}

} // namespace
