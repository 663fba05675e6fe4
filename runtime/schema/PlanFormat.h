//===- PlanFormat.h - constants of the plan file layout ---------*- C++ -*-===//
//
// The numbers and helpers that the plan writer (compiler/plan/) and the plan
// reader (runtime/src/PlanFile.cpp) must agree on; plan.fbs describes the
// layout they implement. Part of the one contract between the compiler and
// the runtime (runtime/schema/: plan.fbs, this file, KernelABI.h), which
// both sides include; nothing outside runtime/ includes runtime/src/.
// Header-only, so that the compiler does not need the rest of the runtime to
// write a plan.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SCHEMA_PLANFORMAT_H
#define LLMC_RUNTIME_SCHEMA_PLANFORMAT_H

#include "llmc/llmc.h"
#include "runtime/schema/plan_generated.h"

#include <xxhash.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace llmc::runtime {

/// The plan format this runtime reads and the compiler writes. A reader
/// accepts its own major version with a minor version up to its own (a
/// newer minor may carry fields it would ignore).
inline constexpr uint16_t kFormatMajor = 1;
inline constexpr uint16_t kFormatMinor = 9;

/// Bytes 8..12 of every plan (after the u32 size prefix and root offset).
inline constexpr char kFileIdentifier[] = "LLMP";

/// The weight section starts at a multiple of this (a page, so that the
/// section can be mapped and uploaded as is).
inline constexpr uint64_t kWeightSectionAlignment = 4096;
/// The smallest Plan.weight_alignment a reader accepts.
inline constexpr uint64_t kMinWeightAlignment = 256;
/// How a plan's bytes must be aligned in memory to be read in place (as a
/// mapping is): llmc_plan_open_memory without a copy (LLMC_PLAN_ALIGNMENT).
inline constexpr uint64_t kPlanMemoryAlignment = LLMC_PLAN_ALIGNMENT;
/// The smallest MemoryPlan.alignment a reader accepts: kernels issue 16-byte
/// vector loads and stores on arena operands.
inline constexpr uint32_t kMinArenaAlignment = 16;

/// The smallest file that can hold the size prefix, root offset and
/// identifier.
inline constexpr uint64_t kMinFileSize = 12;

/// Limits for flatbuffers::Verifier: far above any real plan, low enough that
/// a hostile file cannot make verification take unbounded time or memory.
inline constexpr uint32_t kVerifierMaxDepth = 64;
inline constexpr uint32_t kVerifierMaxTables = 10'000'000;
/// The largest flatbuffer (the S of the size prefix) a reader accepts.
inline constexpr uint64_t kMaxFlatbufferSize = uint64_t(1) << 30;

/// A signed plan ends with a signature block, after its weight section:
///   [0, 8) "LLMCSIG1"; [8, 16) "ed25519" and a NUL; [16, 48) the signer's
///   Ed25519 public key (for display: a reader verifies with its own key);
///   [48, 112) the Ed25519ph signature (libsodium crypto_sign_final_create)
///   of every byte of the file before the block; [112, 128) zero.
/// Readers that predate it ignore it; `llmc sign` and `llmc compile
/// --sign-key` write it.
inline constexpr uint64_t kSignatureBlockSize = 128;
inline constexpr char kSignatureMagic[8] = {'L', 'L', 'M', 'C',
                                            'S', 'I', 'G', '1'};
inline constexpr char kSignatureAlgorithm[8] = {'e', 'd', '2', '5',
                                                '5', '1', '9', '\0'};
inline constexpr uint64_t kSignatureKeyOffset = 16, kSignatureOffset = 48,
                          kSignatureReservedOffset = 112;
inline constexpr uint64_t kSignatureKeyBytes = 32, kSignatureBytes = 64;

/// The version of this runtime and of the compiler that writes
/// Plan.producer ("llmc " + runtimeVersion()).
inline constexpr const char *runtimeVersion() { return LLMC_VERSION_STRING; }

/// Rounds `value` up to a multiple of `alignment` (a power of two). The
/// caller guarantees that the result does not overflow.
inline constexpr uint64_t alignTo(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

/// The file offset of the u64 header checksum, given the u32 size prefix S:
/// align8(4 + S). Cannot overflow for any u32.
inline constexpr uint64_t headerChecksumOffset(uint32_t sizePrefix) {
  return alignTo(uint64_t(4) + sizePrefix, 8);
}

/// The checksum of the header and of each weight: XXH3-64 with seed 0.
inline uint64_t checksum(const void *data, size_t size) {
  return XXH3_64bits(data, size);
}

/// Bytes per element of `dtype`; 0 for I4 and F4E2M1 (half a byte: see
/// dtypeBits and packedBytes) and for a value outside the enum.
inline constexpr uint64_t dtypeSize(llmc::plan::DType dtype) {
  switch (dtype) {
  case llmc::plan::DType::I4:
  case llmc::plan::DType::F4E2M1:
    return 0;
  case llmc::plan::DType::F32:
  case llmc::plan::DType::I32:
    return 4;
  case llmc::plan::DType::F16:
  case llmc::plan::DType::BF16:
    return 2;
  case llmc::plan::DType::F8E4M3:
  case llmc::plan::DType::I8:
  case llmc::plan::DType::E8M0:
    return 1;
  }
  return 0;
}

/// Whether `dtype` packs two elements per byte (I4, F4E2M1).
inline constexpr bool isNibble(llmc::plan::DType dtype) {
  return dtype == llmc::plan::DType::I4 || dtype == llmc::plan::DType::F4E2M1;
}

/// Bits per element of `dtype`; 0 for a value outside the enum.
inline constexpr uint64_t dtypeBits(llmc::plan::DType dtype) {
  return isNibble(dtype) ? 4 : 8 * dtypeSize(dtype);
}

/// Bytes that `elements` densely packed elements of `dtype` take (I4,
/// F4E2M1: two per byte, rounded up). The caller guarantees no overflow.
inline constexpr uint64_t packedBytes(llmc::plan::DType dtype,
                                      uint64_t elements) {
  return isNibble(dtype) ? elements / 2 + elements % 2
                         : elements * dtypeSize(dtype);
}

/// "f32", "f16", "bf16", "i32", "f8e4m3", "i4", "i8", "f4e2m1", "e8m0", or
/// "invalid dtype" outside the enum.
inline const char *dtypeName(llmc::plan::DType dtype) {
  switch (dtype) {
  case llmc::plan::DType::F32:
    return "f32";
  case llmc::plan::DType::F16:
    return "f16";
  case llmc::plan::DType::BF16:
    return "bf16";
  case llmc::plan::DType::I32:
    return "i32";
  case llmc::plan::DType::F8E4M3:
    return "f8e4m3";
  case llmc::plan::DType::I4:
    return "i4";
  case llmc::plan::DType::I8:
    return "i8";
  case llmc::plan::DType::F4E2M1:
    return "f4e2m1";
  case llmc::plan::DType::E8M0:
    return "e8m0";
  }
  return "invalid dtype";
}

/// Arrays of rows a cache holds: keys and values, or (MLA) one latent row.
inline uint64_t kvCacheArrays(const llmc::plan::KVCacheLayout &layout) {
  return layout.latent_dim() > 0 ? 1 : 2;
}

/// Input features that share one activation scale in a Linear with
/// fp8_activations (format 1.8). The llm dialect's kFp8ActivationGroup is
/// the same number (the plan writer asserts it).
inline constexpr int64_t kFp8ActivationGroup = 128;

/// Whether a cache's rows carry one f32 scale per token and KV head in each
/// array (format 1.8: F8E4M3 keys and values).
inline bool kvCacheScaled(const llmc::plan::KVCacheLayout &layout) {
  return layout.dtype() == llmc::plan::DType::F8E4M3;
}

/// Bytes one token takes in one array of a cache, scales included. The
/// caller guarantees no overflow (a verified plan).
inline uint64_t kvCacheRowBytes(const llmc::plan::KVCacheLayout &layout) {
  const uint64_t heads = uint64_t(layout.kv_heads());
  return heads * uint64_t(layout.head_dim()) * dtypeSize(layout.dtype()) +
         (kvCacheScaled(layout) ? heads * sizeof(float) : 0);
}

/// The largest MemoryPlan.kv_page_tokens (format 1.9).
inline constexpr int64_t kMaxKvPageTokens = 65536;
/// `llmc compile`'s default --kv-page-tokens.
inline constexpr int64_t kDefaultKvPageTokens = 64;

/// Positions a cache keeps per sequence (KVCacheLayout): a windowed layer
/// its ring_rows, or without them every position a step may attend to after
/// its write (window + max_tokens - 1: a step's tokens look up to `window`
/// back from each of them); every other layer the whole sequence.
inline int64_t kvCacheSpan(const llmc::plan::KVCacheLayout &layout,
                           int64_t maxSeqLen, int64_t maxTokens) {
  if (layout.window() == 0 || layout.window() >= maxSeqLen)
    return maxSeqLen;
  // All terms are below 2^31 here (verified plans): no overflow.
  const int64_t ring = layout.ring_rows() > 0
                           ? layout.ring_rows()
                           : layout.window() + maxTokens - 1;
  return std::min<int64_t>(maxSeqLen, ring);
}

/// How a cache's rows of one sequence are found (KVCacheLayout): position p
/// is row r % pageTokens of page table[r / pageTokens], r = p % capacity.
struct KvCachePaging {
  int64_t pageTokens = 0;
  int64_t tablePages = 0;
  int64_t capacity = 0; // positions kept; a ring when below max_seq_len
  /// Rows of one sequence's pages.
  int64_t rows() const { return pageTokens * tablePages; }
};

/// The paging of `layout` in a plan of MemoryPlan.kv_page_tokens
/// `pageTokens` (0 before format 1.9: one page of kvCacheSpan rows).
inline KvCachePaging kvCachePaging(const llmc::plan::KVCacheLayout &layout,
                                   int64_t maxSeqLen, int64_t maxTokens,
                                   int64_t pageTokens) {
  const int64_t span = kvCacheSpan(layout, maxSeqLen, maxTokens);
  if (pageTokens == 0)
    return {span, 1, span};
  const int64_t whole = (maxSeqLen + pageTokens - 1) / pageTokens;
  const int64_t ring = (span + pageTokens - 1) / pageTokens;
  // The whole sequence: p % max_seq_len = p (and no int32 overflow).
  if (span >= maxSeqLen || ring >= whole)
    return {pageTokens, whole, maxSeqLen};
  return {pageTokens, ring, span};
}

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SCHEMA_PLANFORMAT_H
