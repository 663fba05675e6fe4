//===- Pipelines.cpp - the pass pipelines llmc compile runs ---------------===//

#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace llmc {

void buildLLMOptimizePipeline(mlir::OpPassManager &pm,
                              llvm::StringRef mlaAbsorbSteps) {
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  mlir::OpPassManager &fn = pm.nest<mlir::func::FuncOp>();
  fn.addPass(createFuseAddRMSNormPass());
  fn.addPass(createFuseGatedMLPPass());
  AbsorbMLAPassOptions absorb;
  absorb.steps = mlaAbsorbSteps.str();
  fn.addPass(createAbsorbMLAPass(absorb));
  fn.addPass(createWindowRingsPass());
  pm.addPass(mlir::createCanonicalizerPass());
}

void buildKernelLoweringPipeline(mlir::OpPassManager &pm, int64_t maxTokens,
                                 int64_t maxSeqLen, bool selectKernels) {
  mlir::OpPassManager &fn = pm.nest<mlir::func::FuncOp>();
  fn.addPass(createConvertLLMToKernelPass());
  PlanMemoryPassOptions options;
  options.maxTokens = maxTokens;
  fn.addPass(createPlanMemoryPass(options));
  if (!selectKernels)
    return;
  KernelSelectPassOptions select;
  select.maxSeqLen = maxSeqLen;
  pm.addPass(createKernelSelectPass(select));
}

namespace {
struct KernelLoweringOptions
    : public mlir::PassPipelineOptions<KernelLoweringOptions> {
  Option<int64_t> maxTokens{*this, "max-tokens",
                            llvm::cl::desc("the most tokens one step runs"),
                            llvm::cl::init(512)};
  Option<int64_t> maxSeqLen{
      *this, "max-seq-len",
      llvm::cl::desc("the longest sequence a session may hold"),
      llvm::cl::init(4096)};
};
} // namespace

void registerAllPassesAndPipelines() {
  registerLLMCPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::PassPipelineRegistration<>(
      "llm-optimize",
      "The llm-level pipeline of `llmc compile`: canonicalize, cse, fusion, "
      "MLA absorption in decode, window rings in prefill",
      [](mlir::OpPassManager &pm) { buildLLMOptimizePipeline(pm); });
  mlir::PassPipelineRegistration<KernelLoweringOptions>(
      "kernel-lower",
      "The launch-level pipeline of `llmc compile`: convert-llm-to-kernel, "
      "kernel-plan-memory, kernel-select",
      [](mlir::OpPassManager &pm, const KernelLoweringOptions &options) {
        buildKernelLoweringPipeline(pm, options.maxTokens, options.maxSeqLen);
      });
}

} // namespace llmc
