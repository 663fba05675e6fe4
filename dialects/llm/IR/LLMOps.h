//===- LLMOps.h - llm dialect operations -----------------------------------===//

#ifndef LLMC_DIALECTS_LLM_IR_LLMOPS_H
#define LLMC_DIALECTS_LLM_IR_LLMOPS_H

#include "dialects/llm/IR/LLMDialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/llm/IR/LLMOps.h.inc"

#endif // LLMC_DIALECTS_LLM_IR_LLMOPS_H
