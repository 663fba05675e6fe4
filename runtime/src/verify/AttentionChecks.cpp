//===- AttentionChecks.cpp - plan checks: RoPE, KV cache write, attention -===//
//
// The rules of llm.rope, llm.kv_cache_write and llm.attention
// (LLMOps.cpp), against the plan's KV cache layouts.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/verify/PlanChecker.h"

#include <cmath>

namespace llmc::runtime::verify {

Status PlanChecker::checkRope(const P::Op &op, const P::Rope &p) {
  LLMC_RETURN_IF_ERROR(positive(p.heads(), "heads"));
  LLMC_RETURN_IF_ERROR(positive(p.head_dim(), "head_dim"));
  if (p.rotary_dim() < 2 || p.rotary_dim() % 2 != 0 ||
      p.rotary_dim() > p.head_dim())
    return failOp("rotary_dim " + std::to_string(p.rotary_dim()) +
                  " is not even and in [2, head_dim " +
                  std::to_string(p.head_dim()) + "]");
  if (p.rotary_offset() < 0 ||
      p.rotary_offset() > p.head_dim() - p.rotary_dim())
    return failOp("rotary_offset " + std::to_string(p.rotary_offset()) +
                  " puts the rotated span outside the head");
  if (p.layout() > P::RopeLayout::Interleaved)
    return failOp("unknown RoPE layout " +
                  std::to_string(unsigned(p.layout())));
  LLMC_RETURN_IF_ERROR(finite(p.attention_scaling(), "attention_scaling"));
  uint64_t freqs = p.inv_freq() ? p.inv_freq()->size() : 0;
  if (freqs != uint64_t(p.rotary_dim() / 2))
    return failOp("inv_freq has " + std::to_string(freqs) +
                  " entries, expected rotary_dim / 2 = " +
                  std::to_string(p.rotary_dim() / 2));
  for (float f : *p.inv_freq())
    if (!std::isfinite(f))
      return failOp("inv_freq holds a non-finite value");
  uint64_t rowElems;
  LLMC_RETURN_IF_ERROR(
      product(p.heads(), p.head_dim(), "heads * head_dim", rowElems));
  LLMC_RETURN_IF_ERROR(counts(op, 2, 1));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", rowElems));
  LLMC_RETURN_IF_ERROR(input(in(op, 1), "positions", 1));
  return arena(out(op, 0), "output", rowElems);
}

Status PlanChecker::checkKVCacheWrite(const P::Op &op,
                                      const P::KVCacheWrite &p) {
  LLMC_RETURN_IF_ERROR(layerIndex(p.layer()));
  LLMC_RETURN_IF_ERROR(cacheKind(p.layer(), false));
  const P::KVCacheLayout *layout = plan_.kv_caches()->Get(p.layer());
  // checkKVCaches made sure the product fits.
  uint64_t rowElems =
      uint64_t(layout->kv_heads()) * uint64_t(layout->head_dim());
  LLMC_RETURN_IF_ERROR(counts(op, 5, 0));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "key", rowElems));
  LLMC_RETURN_IF_ERROR(arena(in(op, 1), "value", rowElems));
  LLMC_RETURN_IF_ERROR(kvCache(in(op, 2), p.layer()));
  LLMC_RETURN_IF_ERROR(input(in(op, 3), "slots", 2));
  return input(in(op, 4), "positions", 1);
}

Status PlanChecker::checkAttention(const P::Op &op, const P::Attention &p) {
  LLMC_RETURN_IF_ERROR(layerIndex(p.layer()));
  LLMC_RETURN_IF_ERROR(cacheKind(p.layer(), false));
  const P::KVCacheLayout *layout = plan_.kv_caches()->Get(p.layer());
  LLMC_RETURN_IF_ERROR(positive(p.heads(), "heads"));
  LLMC_RETURN_IF_ERROR(positive(p.kv_heads(), "kv_heads"));
  LLMC_RETURN_IF_ERROR(positive(p.head_dim(), "head_dim"));
  if (p.heads() % p.kv_heads() != 0)
    return failOp("heads " + std::to_string(p.heads()) +
                  " is not a multiple of kv_heads " +
                  std::to_string(p.kv_heads()));
  if (p.kv_heads() != layout->kv_heads() || p.head_dim() != layout->head_dim())
    return failOp("kv_heads " + std::to_string(p.kv_heads()) +
                  " and head_dim " + std::to_string(p.head_dim()) +
                  " differ from KV cache " + std::to_string(p.layer()) + "'s " +
                  std::to_string(layout->kv_heads()) + " and " +
                  std::to_string(layout->head_dim()));
  LLMC_RETURN_IF_ERROR(finite(p.scale(), "scale"));
  if (p.window() < 0 || p.chunk() < 0)
    return failOp("window and chunk must not be negative");
  // The rules of llm.attention's verifier (dialects/llm/IR/LLMOps.cpp).
  if (p.window() > 0 && p.chunk() > 0)
    return failOp("takes a window or a chunk, not both");
  if (!std::isfinite(p.softcap()) || p.softcap() < 0)
    return failOp("softcap is not a finite non-negative number");
  // A windowed cache keeps only the last positions: only a sliding window
  // no wider than the cache's may read it (a chunk's first position can
  // lie further back than any window).
  if (layout->window() > 0 &&
      !(p.window() > 0 && p.window() <= layout->window()))
    return failOp(
        "attends further back than KV cache " + std::to_string(p.layer()) +
        "'s window of " + std::to_string(layout->window()) +
        (p.chunk() > 0 ? " (chunked attention needs a full cache)" : ""));
  uint64_t rowElems;
  LLMC_RETURN_IF_ERROR(
      product(p.heads(), p.head_dim(), "heads * head_dim", rowElems));
  const uint32_t stepInput = p.sinks() ? 5 : 4;
  LLMC_RETURN_IF_ERROR(counts(op, stepInput + (p.step_kv() ? 2 : 0), 1));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "query", rowElems));
  LLMC_RETURN_IF_ERROR(kvCache(in(op, 1), p.layer()));
  LLMC_RETURN_IF_ERROR(input(in(op, 2), "slots", 2));
  LLMC_RETURN_IF_ERROR(input(in(op, 3), "positions", 1));
  if (p.sinks())
    LLMC_RETURN_IF_ERROR(weight(in(op, 4), "sinks", {p.heads()}));
  // Format 1.9: the step's keys and values, as the cache stores them.
  if (p.step_kv()) {
    if (layout->dtype() == P::DType::F8E4M3)
      return failOp("step_kv needs a cache that stores keys as they are, "
                    "not f8e4m3");
    const uint64_t kvElems =
        uint64_t(layout->kv_heads()) * uint64_t(layout->head_dim());
    LLMC_RETURN_IF_ERROR(arena(in(op, stepInput), "step keys", kvElems));
    LLMC_RETURN_IF_ERROR(arena(in(op, stepInput + 1), "step values", kvElems));
  }
  return arena(out(op, 0), "output", rowElems);
}

} // namespace llmc::runtime::verify
