//===- CudaEmitter.h - kernel.call ops as CUDA C++ --------------*- C++ -*-===//
//
// Prints every kernel.call of a module after kernel-select as one CUDA C++
// translation unit: the prelude, the templates its callee lives in, its
// llmc_inv_freq table, and an extern "C" entry that calls the template with
// the call's typed arguments. Nothing is decided here (kernel-select chose
// every kernel, its constants and geometry); calls naming the same entry
// are one kernel and are printed once. The calling convention is
// runtime/schema/KernelABI.h's: `int num_tokens`, then one parameter per
// operand (a pointer; a KV cache as llmc_kv).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_CODEGEN_CUDA_CUDAEMITTER_H
#define LLMC_COMPILER_CODEGEN_CUDA_CUDAEMITTER_H

#include "compiler/codegen/cuda/NVRTC.h"
#include "dialects/kernel/IR/KernelOps.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace llmc::codegen::cuda {

struct CudaProgram {
  /// Distinct entries in the order the module first calls them, each its
  /// own translation unit with one extern "C" __global__ function named
  /// like the KernelSource.
  std::vector<KernelSource> entries;
  /// Entries that run most of a step's time (kernel.call's `hot`).
  std::vector<bool> hot;
  /// Each entry's parameter types (entryParamTypes).
  std::vector<std::vector<std::string>> paramTypes;
};

/// The CUDA C++ of every kernel.call in `module`. Fails on a call it cannot
/// print (an unknown template) or two calls that give one entry name to
/// different code.
llvm::Expected<CudaProgram> generateCuda(mlir::ModuleOp module);

/// The C types of the parameters of `call`'s extern "C" entry, in order:
/// `int` (num_tokens), then for each buffer a pointer to its element type
/// (const unless the call writes it) or `llmc_kv`. The emitter prints the
/// signature from it, and the CPU emulator reads it (<name>.params).
llvm::Expected<std::vector<std::string>> entryParamTypes(kernel::CallOp call);

/// Writes each entry's source to `dir`/<name>.cu and its parameter types,
/// one per line, to `dir`/<name>.params, creating `dir`.
llvm::Error dumpSources(const CudaProgram &program, llvm::StringRef dir);

} // namespace llmc::codegen::cuda

#endif // LLMC_COMPILER_CODEGEN_CUDA_CUDAEMITTER_H
