//===- LLMTypes.cpp - llm dialect types ------------------------------------===//

#include "dialects/llm/IR/LLMDialect.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace llmc::llm;

#define GET_TYPEDEF_CLASSES
#include "dialects/llm/IR/LLMTypes.cpp.inc"

void LLMDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/llm/IR/LLMTypes.cpp.inc"
      >();
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t kvHeads, int64_t headDim, Type dtype,
                                  int64_t window) {
  if (kvHeads <= 0)
    return emitError() << "kv_heads must be positive, got " << kvHeads;
  if (headDim <= 0)
    return emitError() << "head_dim must be positive, got " << headDim;
  if (!isa<FloatType>(dtype))
    return emitError() << "dtype must be a float type, got " << dtype;
  if (window < 0)
    return emitError() << "window must be positive (or absent), got "
                       << window;
  return success();
}

LogicalResult
LatentCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t latentDim, int64_t ropeDim, Type dtype) {
  if (latentDim <= 0)
    return emitError() << "latent_dim must be positive, got " << latentDim;
  if (ropeDim <= 0 || ropeDim % 2 != 0)
    return emitError() << "rope_dim must be positive and even, got "
                       << ropeDim;
  if (!isa<FloatType>(dtype))
    return emitError() << "dtype must be a float type, got " << dtype;
  return success();
}
