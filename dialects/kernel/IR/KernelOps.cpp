//===- KernelOps.cpp - kernel dialect registration and verifiers ----------===//

#include "dialects/kernel/IR/KernelOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace llmc::kernel;

#include "dialects/kernel/IR/KernelDialect.cpp.inc"

void KernelDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/kernel/IR/KernelOps.cpp.inc"
      >();
}

LogicalResult LaunchOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty name");
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError("body has ")
           << body.getNumArguments() << " arguments for " << getInputs().size()
           << " operands";
  for (auto [i, pair] : llvm::enumerate(
           llvm::zip(body.getArgumentTypes(), getInputs().getTypes())))
    if (std::get<0>(pair) != std::get<1>(pair))
      return emitOpError("body argument ")
             << i << " has type " << std::get<0>(pair) << ", operand has "
             << std::get<1>(pair);
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yields ")
           << yield.getValues().size()
           << " values whose types differ from its results";
  return success();
}

#define GET_OP_CLASSES
#include "dialects/kernel/IR/KernelOps.cpp.inc"
