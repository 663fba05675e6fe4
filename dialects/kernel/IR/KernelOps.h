//===- KernelOps.h - kernel dialect operations
//-----------------------------===//

#ifndef LLMC_DIALECTS_KERNEL_IR_KERNELOPS_H
#define LLMC_DIALECTS_KERNEL_IR_KERNELOPS_H

#include "dialects/kernel/IR/KernelDialect.h"

#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace llmc::kernel {
/// Attribute names set by memory planning.
inline constexpr llvm::StringLiteral kOffsetsAttrName = "kernel.offsets";
inline constexpr llvm::StringLiteral kArenaBytesAttrName = "kernel.arena_bytes";
inline constexpr llvm::StringLiteral kMaxTokensAttrName = "kernel.max_tokens";
} // namespace llmc::kernel

#define GET_OP_CLASSES
#include "dialects/kernel/IR/KernelOps.h.inc"

#endif // LLMC_DIALECTS_KERNEL_IR_KERNELOPS_H
