//===- KernelABI.h - how the runtime calls generated kernels ----*- C++ -*-===//
//
// The contract between compiler/codegen/cuda (which writes the kernels) and
// the CUDA backend (which launches them), as plan.fbs's Launch describes:
//
//   extern "C" __global__ void entry(int num_tokens, ARG0, ARG1, ...)
//
// with one parameter per Launch.args operand: a device pointer for Arena,
// Weight, Scratch and Input operands, an LLMCKvArg by value for KVCache.
// The generated prelude declares the same struct as `llmc_kv`; codegen's
// tests compare the two texts.
//
// KV cache layout (plan.fbs, KVCacheLayout): keys [pages, P, kv_heads,
// head_dim], values likewise; position p of slot s at row
// page_table[s * table_pages + (p >> page_shift) % table_pages] * P +
// p % P with P = 1 << page_shift. An F8E4M3 cache (format 1.8) adds f32
// key and value scales [pages, P, kv_heads]; other caches pass null.
// Plans before format 1.9 have no page table: row s * capacity +
// p % capacity (their kernels read the first five members only).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SCHEMA_KERNELABI_H
#define LLMC_RUNTIME_SCHEMA_KERNELABI_H

#include <cstddef>
#include <cstdint>

namespace llmc::runtime::cuda {

/// A KVCache operand as a kernel parameter.
struct LLMCKvArg {
  void *keys = nullptr;
  void *values = nullptr;
  int32_t capacity = 0; // rows per sequence the page table addresses
  float *key_scales = nullptr;   // F8E4M3 caches only
  float *value_scales = nullptr; // F8E4M3 caches only
  const int32_t *page_table = nullptr; // [max_batch, table_pages]
  int32_t table_pages = 0;
  int32_t page_shift = 0; // log2 of the rows per page
};
static_assert(sizeof(LLMCKvArg) == 56 && alignof(LLMCKvArg) == 8);

/// The same struct as generated CUDA C++ declares it.
inline constexpr const char *kKvArgDeclaration =
    "struct llmc_kv { void *keys; void *values; int capacity; "
    "float *key_scales; float *value_scales; const int *page_table; "
    "int table_pages; int page_shift; };";

} // namespace llmc::runtime::cuda

#endif // LLMC_RUNTIME_SCHEMA_KERNELABI_H
