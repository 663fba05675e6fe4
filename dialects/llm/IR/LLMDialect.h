//===- LLMDialect.h - the llm dialect, its enums, attributes and types ----===//

#ifndef LLMC_DIALECTS_LLM_IR_LLMDIALECT_H
#define LLMC_DIALECTS_LLM_IR_LLMDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"

#include <optional>

#include "dialects/llm/IR/RopeFrequencies.h"

#include "dialects/llm/IR/LLMDialect.h.inc"

namespace llmc::llm {
/// The shortest decimal that reads back as the same double, always written
/// as an MLIR float literal ("500000.0", "1.0e-06", "0.125").
std::string formatDouble(double value);
} // namespace llmc::llm
#include "dialects/llm/IR/LLMEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/llm/IR/LLMAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/llm/IR/LLMTypes.h.inc"

namespace llmc::llm {
/// The logical shape of a weight: a ranked tensor's, or a quantized
/// weight's (!llm.qweight); empty for anything else.
llvm::ArrayRef<int64_t> weightShape(mlir::Type type);

/// Input features that share one scale when llm.linear quantizes its
/// activations (`fp8_activations`): DeepSeek-V3's 1 x 128 groups, the
/// width of its weights' scale blocks.
inline constexpr int64_t kFp8ActivationGroup = 128;
} // namespace llmc::llm

#endif // LLMC_DIALECTS_LLM_IR_LLMDIALECT_H
