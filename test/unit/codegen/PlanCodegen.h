//===- PlanCodegen.h - code for hand-built test plans -----------*- C++ -*-===//
//
// TEST SUPPORT, to be deleted: the code generator as it was before kernel
// selection became IR (kernel-select), reading the op lists of a plan.
// The unit and emulation tests that build plans by hand (AllOpsPlan.h,
// GreedyTest.cpp, the race cases of CudaEmitterTest.cpp) still get their
// launches from it; `llmc compile` never uses it (kernel-select chooses,
// compiler/codegen/cuda/CudaEmitter prints). It instantiates the same
// templates (compiler/codegen/cuda/templates) with the same constants, so
// those tests keep exercising the real kernels; the follow-up is to build
// those test models as llm IR and delete this file.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_CODEGEN_PLANCODEGEN_H
#define LLMC_TEST_UNIT_CODEGEN_PLANCODEGEN_H

#include "compiler/codegen/cuda/NVRTC.h"
#include "runtime/schema/plan_generated.h"

#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace llmc::test::plan_codegen {

using namespace llmc::codegen::cuda; // KernelSource, compileAll, ...

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

} // namespace llmc::test::plan_codegen

#endif // LLMC_TEST_UNIT_CODEGEN_PLANCODEGEN_H
