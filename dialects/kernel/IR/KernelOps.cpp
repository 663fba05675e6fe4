//===- KernelOps.cpp - kernel dialect registration and verifiers ----------===//

#include "dialects/kernel/IR/KernelOps.h"

#include "dialects/llm/IR/LLMDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

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

std::string llmc::kernel::cudaFloatLiteral(float f) {
  if (f == 0.0f)
    return "0.0f";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%a", double(f)) << "f";
  return s;
}

LogicalResult CallOp::verify() {
  if (getEntry().empty())
    return emitOpError("needs a non-empty entry name");
  const size_t n = getBuffers().size();
  if (getWrites().size() != n)
    return emitOpError("has ") << getWrites().size()
                               << " writes flags for " << n << " operands";
  if (getGrid().size() != 3)
    return emitOpError("grid must have 3 dimensions, got ")
           << getGrid().size();
  if (llvm::any_of(getGrid(), [](int32_t g) { return g < 1; }) ||
      getBlock() < 1 || getBlock() > 1024)
    return emitOpError("needs a grid of at least 1 block per axis and 1 to "
                       "1024 threads per block");
  if (getDynamicShared() && (*getDynamicShared() < 1 ||
                             *getDynamicShared() > 227 * 1024))
    return emitOpError("dynamic_shared must be 1 to 232448 bytes (227 KiB, "
                       "the most any target offers), got ")
           << *getDynamicShared();
  if (getTokenAxis() < 0 || getTokenAxis() > 2 || getTokensPerBlock() < 0)
    return emitOpError("token axis must be 0, 1 or 2 and tokens per block "
                       "not negative");
  if (getMinTokens() < 1 ||
      (getMaxTokens() != 0 && getMaxTokens() < getMinTokens()))
    return emitOpError("runs for no step size: tokens in [")
           << getMinTokens() << ", " << getMaxTokens() << "]";
  if (std::optional<ArrayRef<bool>> scales = getScales()) {
    if (scales->size() != n)
      return emitOpError("scales has ") << scales->size() << " entries for "
                                        << n << " operands";
    for (size_t i = 0; i < n; ++i)
      if ((*scales)[i] &&
          (getWrites()[i] ||
           !isa<llmc::llm::QuantWeightType>(getBuffers()[i].getType())))
        return emitOpError("operand ")
               << i << " is read as scales but is not a quantized weight";
  }
  if (std::optional<ArrayRef<bool>> zeros = getZeros()) {
    if (zeros->size() != n)
      return emitOpError("zeros has ") << zeros->size() << " entries for "
                                       << n << " operands";
    for (size_t i = 0; i < n; ++i) {
      auto q = dyn_cast<llmc::llm::QuantWeightType>(getBuffers()[i].getType());
      if ((*zeros)[i] && (getWrites()[i] || !q || !q.getZero()))
        return emitOpError("operand ")
               << i << " is read as zero points but is not a quantized "
                  "weight with zero points";
    }
  }
  std::vector<bool> used(n, false);
  for (Attribute a : getArgs()) {
    if (auto i = dyn_cast<IntegerAttr>(a)) {
      if (i.getInt() < 0 || uint64_t(i.getInt()) >= n)
        return emitOpError("argument refers to operand ")
               << i.getInt() << " of " << n;
      used[size_t(i.getInt())] = true;
    } else if (auto s = dyn_cast<StringAttr>(a)) {
      if (s.getValue() != "num_tokens" && s.getValue() != "llmc_inv_freq")
        return emitOpError("unknown argument \"") << s.getValue() << "\"";
      if (s.getValue() == "llmc_inv_freq" && !getInvFreq())
        return emitOpError("passes llmc_inv_freq without an inv_freq table");
    } else if (auto out = dyn_cast<ArrayAttr>(a)) {
      if (out.size() != 1 || !isa<TypeAttr>(out[0]))
        return emitOpError("a null output argument is [type], got ") << a;
    } else if (!isa<TypeAttr, FloatAttr>(a)) {
      return emitOpError("argument ") << a
                                      << " is not an operand index, a type, "
                                         "a float or a symbol";
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (!used[i])
      return emitOpError("operand ") << i << " is not an argument of the call";
  for (Attribute a : getTemplateArgs())
    if (!isa<IntegerAttr, BoolAttr, TypeAttr, FloatAttr>(a))
      return emitOpError("template argument ")
             << a << " is not an integer, a boolean, a type or a float";
  return success();
}

#define GET_OP_CLASSES
#include "dialects/kernel/IR/KernelOps.cpp.inc"
