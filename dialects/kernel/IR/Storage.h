//===- Storage.h - where a value of a step lives ----------------*- C++ -*-===//
//
// Follows a value of a step function after kernel-plan-memory back to its
// storage: a step input, a weight, a KV cache, bytes of the arena (the
// kernel.offsets of the op that defines it) or of the scratch buffer
// (kernel.scratch). Launch arguments and results, views (split/merge heads)
// and cache updates are followed to their source. Kernel selection reads it
// to see which operands share bytes; the plan writer turns it into plan
// operands.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_KERNEL_IR_STORAGE_H
#define LLMC_DIALECTS_KERNEL_IR_STORAGE_H

#include "mlir/IR/Value.h"

#include "llvm/Support/Error.h"

#include <cstdint>

namespace llmc::kernel {

enum class StorageKind { Input, Weight, KVCache, Arena, Scratch };

struct Storage {
  StorageKind kind = StorageKind::Arena;
  /// f32, f16, bf16 or i32: the element type (a KV cache's dtype, which
  /// may also be f8E4M3FN).
  mlir::Type elementType;
  /// Input: 0 tokens, 1 positions, 2 slots; KVCache: the layer.
  unsigned index = 0;
  /// Weight: the llm.param's name.
  llvm::StringRef weight;
  /// Arena and Scratch: the byte offset.
  uint64_t offset = 0;
  /// Elements per token (Arena; Scratch as declared; Input 1; else 0).
  uint64_t rowElems = 0;

  bool operator==(const Storage &o) const {
    return kind == o.kind && elementType == o.elementType &&
           index == o.index && weight == o.weight && offset == o.offset &&
           rowElems == o.rowElems;
  }
  /// Whether `maxTokens` rows of two arena values share bytes.
  bool overlaps(const Storage &o, int64_t maxTokens) const;
};

/// Where `value` lives; an error naming what has no storage.
llvm::Expected<Storage> resolveStorage(mlir::Value value);

} // namespace llmc::kernel

#endif // LLMC_DIALECTS_KERNEL_IR_STORAGE_H
