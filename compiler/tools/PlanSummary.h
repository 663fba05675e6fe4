//===- PlanSummary.h - what a plan holds (llmc inspect) ---------*- C++ -*-===//
//
// The text of `llmc inspect`: model, memory plan, KV cache, weights, the
// generated code with ptxas's resource report, and every kernel's body and
// launches. Reads only the fields the plan verifier requires (a plan that
// llmc_plan_open accepted prints without a crash; PlanFieldsTest and the
// plan fuzzer hold it to that).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_TOOLS_PLANSUMMARY_H
#define LLMC_COMPILER_TOOLS_PLANSUMMARY_H

#include "runtime/schema/plan_generated.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>

namespace llmc::tools {

/// Prints `plan` (verified, from the file `path` of `fileSize` bytes).
void printPlanSummary(llvm::raw_ostream &os, const llmc::plan::Plan &plan,
                      llvm::StringRef path, uint64_t fileSize, bool listKernels,
                      bool listWeights);

} // namespace llmc::tools

#endif // LLMC_COMPILER_TOOLS_PLANSUMMARY_H
