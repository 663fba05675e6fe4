//===- CudaEmitter.h - a plan's programs as generated CUDA C++ --*- C++ -*-===//
//
// Turns every kernel of a plan's prefill and decode programs into launches
// of CUDA C++ entries specialized to that model: sizes, head counts, window,
// dtypes and tile shapes are compile-time constants of small templates
// (templates/*.cuh); operand addresses are parameters, so the layers of a
// model share entries and each distinct entry is compiled once. The calling
// convention is runtime/schema/KernelABI.h's.
//
// Per op kind:
//   embedding       gather, one thread per element
//   rms_norm        block per (token, group), registers + block reduction
//   add_rms_norm    the same with the residual sum fused in front
//   2 rms_norms of one size in a row (Q and K norms): one launch
//   linear, lm_head GEMV (one warp per row) for T <= 16, GEMM above:
//                   mma.sync tensor cores for bf16/f16, fp32 SIMT otherwise;
//                   bias fused in the epilogue
//   gated_linear    the same with two weights and the GLU in the epilogue
//   2-3 linears of one input in a row (Q, K, V): one GEMV launch for all
//                   (gemv_multi), each its own GEMM
//   glu, add, softcap
//                   elementwise
//   rope            one thread per rotated pair, cos/sin in fp32
//   kv_cache_write  one thread per element of K and V
//   rope(q), rope(k), kv_cache_write of the rotated k, in a row: one launch
//                   doing all three, where no write races another's read
//   attention       prefill: flash attention over 16-token query tiles;
//                   decode: split-KV flash decoding + a combine kernel
// and per program, greedy sampling: the argmax of each logits row over
// vocabulary slices, then one warp per row combining the slices.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_CUDAEMITTER_H
#define LLMC_COMPILER_CODEGEN_CUDA_CUDAEMITTER_H

#include "compiler/codegen/cuda/NVRTC.h"
#include "runtime/schema/plan_generated.h"

#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace llmc::codegen::cuda {

/// One launch of plan.fbs's Launch table.
struct LaunchSpec {
  unsigned entry = 0; // index into CudaProgram::entries
  std::vector<llmc::plan::Operand> args;
  std::array<uint32_t, 3> grid{1, 1, 1};
  uint32_t block = 1;
  uint32_t dynamicSharedBytes = 0;
  uint32_t tokensPerBlock = 0;
  uint8_t tokenAxis = 0;
  uint32_t minTokens = 1;
  uint32_t maxTokens = 0; // 0: no upper bound
};

/// The launches of one plan kernel, in order.
struct KernelLaunches {
  std::string name;
  std::vector<LaunchSpec> launches;
};

struct CudaProgram {
  /// Distinct entries, each its own translation unit with one extern "C"
  /// __global__ function named like the KernelSource.
  std::vector<KernelSource> entries;
  /// Per plan kernel, in program order.
  std::vector<KernelLaunches> prefill, decode;
  /// Greedy sampling of each program's logits (plan.fbs Program.greedy):
  /// the argmax of every row, -1 for a row with a NaN, into greedyTokens
  /// (a Scratch operand, one int32 per token).
  std::vector<LaunchSpec> prefillGreedy, decodeGreedy;
  llmc::plan::Operand greedyTokens;
  /// Scratch the Scratch operands address, for max_tokens tokens.
  uint64_t scratchBytes = 0;
  /// Entries that run most of a step's time (GEMV, GEMM, attention): a
  /// register spill in one of these is a performance bug.
  std::vector<bool> hot;
};

/// Generates the CUDA code of `plan`'s programs. Fails, naming the op, on
/// anything it cannot generate.
llvm::Expected<CudaProgram> generateCuda(const llmc::plan::Plan &plan);

/// Writes each entry's source to `dir`/<name>.cu, creating `dir`.
llvm::Error dumpSources(llvm::ArrayRef<KernelSource> entries,
                        llvm::StringRef dir);

} // namespace llmc::codegen::cuda

#endif // LLMC_COMPILER_CODEGEN_CUDA_CUDAEMITTER_H
