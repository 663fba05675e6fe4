//===- NVRTC.h - CUDA C++ source to cubin and PTX through NVRTC -*- C++ -*-===//
//
// The one place the compiler talks to NVRTC: targets are validated against
// what the loaded NVRTC supports, each kernel source becomes SASS for one
// architecture (the cubin the runtime loads) plus its PTX (for GPUs newer
// than any target), and ptxas's verbose report is parsed into per-entry
// resource usage. No GPU is needed.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_NVRTC_H
#define LLMC_COMPILER_CODEGEN_CUDA_NVRTC_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llmc::codegen::cuda {

/// A real GPU architecture, e.g. sm_90a: major 9, minor 0, arch-specific.
struct Target {
  std::string name;
  int major = 0;
  int minor = 0;
  /// The 'a' suffix: may use features (wgmma, setmaxnreg) that only this
  /// exact architecture has; its cubin runs on nothing else.
  bool archSpecific = false;
};

/// The target names parseTarget accepts: those of sm_80, sm_86, sm_89, sm_90,
/// sm_90a, sm_100 and sm_120 that the loaded NVRTC can compile for.
const std::vector<std::string> &acceptedTargets();

/// Parses and validates a target name; the error lists acceptedTargets().
llvm::Expected<Target> parseTarget(llvm::StringRef name);

/// One translation unit of CUDA C++.
struct KernelSource {
  /// Names the kernel in diagnostics, dumps (<name>.cu) and results.
  std::string name;
  std::string source;
  /// The __global__ functions the runtime will launch, as name expressions:
  /// an extern "C" name ("rmsnorm_f32") or a C++ one ("gemm<128, 64>"). Each
  /// must exist and be a kernel; CompiledKernel::symbols maps it to the name
  /// in the cubin.
  std::vector<std::string> entryPoints;
};

/// What ptxas reports for one kernel. Sizes in bytes; stack and spills are
/// per thread, shared memory per block.
struct ResourceUsage {
  int registers = 0;
  int spillStoreBytes = 0;
  int spillLoadBytes = 0;
  /// __shared__ arrays; dynamic shared memory comes on top at launch.
  int staticSharedBytes = 0;
  /// Constant bank 0 (parameters and driver constants). ptxas 13 prints it
  /// for sm_8x but not for sm_90 and newer, where it stays 0.
  int constantBytes = 0;
  /// Per-thread local memory: the stack frame including callees' frames.
  int localBytes = 0;
};

/// The result of compiling one KernelSource for one Target.
struct CompiledKernel {
  std::string name;
  Target target;
  /// An ELF cubin with SASS for target.
  std::vector<uint8_t> cubin;
  /// PTX for the virtual architecture compute_XX of target. NVRTC emits it
  /// from the same compile: on NVRTC 13.0 it is byte for byte what a separate
  /// -arch=compute_XX compile produces.
  std::string ptx;
  /// Per kernel, keyed by its demangled name ("vadd", "void gemm<128>(float
  /// *)"); every kernel in the source, not only the entry points.
  std::map<std::string, ResourceUsage> usage;
  /// Entry point (as given) -> its symbol in the cubin (mangled unless
  /// extern "C"), which is what cuModuleGetFunction needs.
  std::map<std::string, std::string> symbols;
  /// NVRTC's log: warnings and ptxas's report.
  std::string log;
};

/// Compiles `source` for `target` with -std=c++17 -default-device, the
/// toolkit's and CCCL's include directories, ptxas -v, and `extraOptions`
/// last. Fast math is off: results must match the CPU reference (NVRTC's
/// default --fmad=true still contracts a*b+c). On failure the error names the
/// kernel and the target and carries NVRTC's full log; if `dumpDir` is given,
/// the source is written there as <name>.cu and the error gives that path.
llvm::Expected<CompiledKernel>
compileKernel(const KernelSource &source, const Target &target,
              llvm::ArrayRef<std::string> extraOptions = {},
              llvm::StringRef dumpDir = "");

/// Compiles every kernel for every target, at most `jobs` at once (0: one per
/// hardware thread). Results are kernel-major: kernels[i] for targets[j] is
/// at i * targets.size() + j. If any fails, the error joins the first three
/// failures (and counts the rest), in
/// that same order. `extraOptions` go to every compile, as in compileKernel.
llvm::Expected<std::vector<CompiledKernel>>
compileAll(llvm::ArrayRef<KernelSource> kernels, llvm::ArrayRef<Target> targets,
           unsigned jobs = 0, llvm::StringRef dumpDir = "",
           llvm::ArrayRef<std::string> extraOptions = {});

/// Parses ptxas's verbose report (the "ptxas info" lines of an NVRTC log)
/// into per-kernel usage keyed by demangled name.
std::map<std::string, ResourceUsage> parsePtxasReport(llvm::StringRef log);

/// The loaded NVRTC's version, e.g. "13.0".
std::string nvrtcVersion();

} // namespace llmc::codegen::cuda

#endif // LLMC_COMPILER_CODEGEN_CUDA_NVRTC_H
