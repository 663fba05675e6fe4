//===- EmulatedPlan.h - a plan with generated code, emulated ----*- C++ -*-===//
//
// For the tests that run generated kernels on the emulating fake driver
// (README.md): writes a lowered module (test/support/TestModule.h) as a plan
// whose code section holds the generated entries with binary bytes that
// driver never reads (it compiles and runs the dumped sources), and points
// the driver's environment at those sources.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_EMULATION_EMULATEDPLAN_H
#define LLMC_TEST_EMULATION_EMULATEDPLAN_H

#include "compiler/codegen/cuda/CudaEmitter.h"
#include "compiler/plan/PlanWriter.h"

#include <string>

namespace llmc::runtime::test {

/// Generates the CUDA code of `module` (after kernel-lower), dumps it into
/// `kernelsDir`, writes the plan (targets cpu and sm_90a) to `path`, and sets
/// LLMC_CUDA_DRIVER, LLMC_EMU_SOURCES and LLMC_EMU_COMPILE. Returns the
/// generated program; on failure an error naming the step.
llvm::Expected<llmc::codegen::cuda::CudaProgram>
writeEmulatedPlan(mlir::ModuleOp module, plan_writer::WeightSource &weights,
                  int64_t maxSeqLen, const std::string &path,
                  const std::string &kernelsDir);

} // namespace llmc::runtime::test

#endif // LLMC_TEST_EMULATION_EMULATEDPLAN_H
