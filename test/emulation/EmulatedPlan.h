//===- EmulatedPlan.h - a test plan with generated code, emulated -*- C++ -*-===//
//
// For the tests that run generated kernels on the emulating fake driver
// (README.md): generates the CUDA code of a TestPlan, dumps the sources
// the driver compiles and runs, gives the plan a code section whose binary
// bytes that driver never reads (it runs the sources) with the generated
// launches (greedy ones too), and points the driver's environment at them.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_EMULATION_EMULATEDPLAN_H
#define LLMC_TEST_EMULATION_EMULATEDPLAN_H

#include "compiler/codegen/cuda/CudaEmitter.h"
#include "test/unit/codegen/PlanCodegen.h"
#include "test/unit/runtime/TestPlan.h"

#include <string>

namespace llmc::runtime::test {

/// Generates `t`'s code, dumps it into `kernelsDir`, fills in t.cuda,
/// t.targets and every launch, and sets LLMC_CUDA_DRIVER, LLMC_EMU_SOURCES
/// and LLMC_EMU_COMPILE. Returns the generated program; on failure an
/// error naming the step.
llvm::Expected<llmc::test::plan_codegen::CudaProgram>
addEmulatedCode(TestPlan &t, const std::string &kernelsDir);

} // namespace llmc::runtime::test

#endif // LLMC_TEST_EMULATION_EMULATEDPLAN_H
