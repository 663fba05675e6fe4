//===- KernelOps.h - kernel dialect operations
//-----------------------------===//

#ifndef LLMC_DIALECTS_KERNEL_IR_KERNELOPS_H
#define LLMC_DIALECTS_KERNEL_IR_KERNELOPS_H

#include "dialects/kernel/IR/KernelDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <string>

namespace llmc::kernel {
/// Attribute names set by memory planning.
inline constexpr llvm::StringLiteral kOffsetsAttrName = "kernel.offsets";
inline constexpr llvm::StringLiteral kArenaBytesAttrName = "kernel.arena_bytes";
inline constexpr llvm::StringLiteral kMaxTokensAttrName = "kernel.max_tokens";
/// Set by kernel-select: the bytes of scratch memory the step's kernel.call
/// ops address (kernel.scratch views), for max_tokens tokens.
inline constexpr llvm::StringLiteral kScratchBytesAttrName =
    "kernel.scratch_bytes";

/// How kernel.call writes an f32 constant in CUDA C++: exact, hexadecimal
/// ("0x1.4p+2f"; "0.0f" for zero).
std::string cudaFloatLiteral(float value);

} // namespace llmc::kernel

#define GET_OP_CLASSES
#include "dialects/kernel/IR/KernelOps.h.inc"

#endif // LLMC_DIALECTS_KERNEL_IR_KERNELOPS_H
