//===- Passes.h - llmc passes and pipelines --------------------------------===//

#ifndef LLMC_PASSES_PASSES_H
#define LLMC_PASSES_PASSES_H

#include "dialects/kernel/IR/KernelDialect.h"
#include "dialects/llm/IR/LLMDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace llmc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The llm-level pipeline `llmc compile` runs on a freshly imported model:
/// canonicalize, deduplicate, fuse, then absorb MLA in the steps
/// `mlaAbsorbSteps` names (decode, all, none). Registered as `llm-optimize`.
void buildLLMOptimizePipeline(mlir::OpPassManager &pm,
                              llvm::StringRef mlaAbsorbSteps = "decode");

/// Lowering to launches and memory planning: convert-llm-to-kernel, then
/// kernel-plan-memory for `maxTokens` tokens per step. Registered as
/// `kernel-lower` (option max-tokens).
/// convert-llm-to-kernel and kernel-plan-memory on each step function, then
/// kernel-select on the module (without selectKernels, for plans that run
/// on the CPU backend only, which reads the launches' llm ops).
void buildKernelLoweringPipeline(mlir::OpPassManager &pm, int64_t maxTokens,
                                 int64_t maxSeqLen, bool selectKernels = true);

/// Registers every llmc pass and pipeline (for llmc-opt and llmc).
void registerAllPassesAndPipelines();

} // namespace llmc

#endif // LLMC_PASSES_PASSES_H
