//===- Pipelines.cpp - the pass pipelines llmc compile runs ---------------===//

#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace llmc {

void buildLLMOptimizePipeline(mlir::OpPassManager &pm) {
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  mlir::OpPassManager &fn = pm.nest<mlir::func::FuncOp>();
  fn.addPass(createFuseAddRMSNormPass());
  fn.addPass(createFuseGatedMLPPass());
  pm.addPass(mlir::createCanonicalizerPass());
}

void registerAllPassesAndPipelines() {
  registerLLMCPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::PassPipelineRegistration<>(
      "llm-optimize",
      "The llm-level pipeline of `llmc compile`: canonicalize, cse, fusion",
      buildLLMOptimizePipeline);
}

} // namespace llmc
