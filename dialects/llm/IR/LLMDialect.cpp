//===- LLMDialect.cpp - dialect registration and module-level checks ------===//

#include "dialects/llm/IR/LLMDialect.h"
#include "dialects/llm/IR/LLMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace llmc::llm;

#include "dialects/llm/IR/LLMDialect.cpp.inc"

void LLMDialect::initialize() {
  registerAttributes();
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "dialects/llm/IR/LLMOps.cpp.inc"
      >();
}

LogicalResult LLMDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  if (attr.getName() == kModelAttrName) {
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << kModelAttrName
                             << "' may only be set on a module";
    if (!isa<ModelAttr>(attr.getValue()))
      return op->emitError() << "'" << kModelAttrName
                             << "' must be an #llm.model attribute";
    return success();
  }
  if (attr.getName() == kStepAttrName) {
    if (!isa<func::FuncOp>(op))
      return op->emitError() << "'" << kStepAttrName
                             << "' may only be set on a func.func";
    if (!isa<StepAttr>(attr.getValue()))
      return op->emitError() << "'" << kStepAttrName
                             << "' must be an #llm.step attribute";
    return success();
  }
  return op->emitError() << "unknown llm dialect attribute '"
                         << attr.getName().getValue() << "'";
}
