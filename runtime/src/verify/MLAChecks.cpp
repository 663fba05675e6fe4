//===- MLAChecks.cpp - plan checks: Multi-head Latent Attention -----------===//
//
// The rules of llm.latent_cache_write, llm.mla_attention,
// llm.mla_absorb_query, llm.latent_attention and llm.mla_absorb_output
// (LLMOps.cpp), against the plan's latent cache layouts.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/verify/PlanChecker.h"

#include <cmath>

namespace llmc::runtime::verify {

Status PlanChecker::cacheKind(uint32_t layer, bool latent) {
  const P::KVCacheLayout *layout = plan_.kv_caches()->Get(layer);
  if ((layout->latent_dim() > 0) != latent)
    return failOp("KV cache " + std::to_string(layer) +
                  (latent ? " is not an MLA latent cache"
                          : " is an MLA latent cache, not keys and values"));
  return Status::success();
}

Status PlanChecker::mlaSizes(uint32_t layer, int64_t latent, int64_t rope) {
  LLMC_RETURN_IF_ERROR(layerIndex(layer));
  LLMC_RETURN_IF_ERROR(cacheKind(layer, true));
  const P::KVCacheLayout *layout = plan_.kv_caches()->Get(layer);
  if (latent != layout->latent_dim() ||
      rope != layout->head_dim() - layout->latent_dim())
    return failOp("latent_dim " + std::to_string(latent) + " and rope_dim " +
                  std::to_string(rope) + " differ from latent cache " +
                  std::to_string(layer) + "'s " +
                  std::to_string(layout->latent_dim()) + " and " +
                  std::to_string(layout->head_dim() - layout->latent_dim()));
  return Status::success();
}

Status PlanChecker::kvB(const P::Operand &o, int64_t heads, int64_t nope,
                        int64_t v, int64_t latent) {
  LLMC_RETURN_IF_ERROR(positive(heads, "heads"));
  LLMC_RETURN_IF_ERROR(positive(nope, "nope_dim"));
  LLMC_RETURN_IF_ERROR(positive(v, "v_dim"));
  LLMC_RETURN_IF_ERROR(positive(latent, "latent_dim"));
  uint64_t rows;
  LLMC_RETURN_IF_ERROR(product(heads, nope + v, "heads * (nope + v)", rows));
  return weight(o, "kv_b", {int64_t(rows), latent});
}

Status PlanChecker::checkLatentCacheWrite(const P::Op &op,
                                          const P::LatentCacheWrite &p) {
  LLMC_RETURN_IF_ERROR(mlaSizes(p.layer(), p.latent_dim(), p.rope_dim()));
  LLMC_RETURN_IF_ERROR(finite(p.eps(), "eps"));
  if (!(p.eps() > 0))
    return failOp("eps must be positive");
  if (p.layout() > P::RopeLayout::Interleaved)
    return failOp("unknown RoPE layout " +
                  std::to_string(unsigned(p.layout())));
  LLMC_RETURN_IF_ERROR(finite(p.attention_scaling(), "attention_scaling"));
  uint64_t freqs = p.inv_freq() ? p.inv_freq()->size() : 0;
  if (freqs != uint64_t(p.rope_dim() / 2))
    return failOp("inv_freq has " + std::to_string(freqs) +
                  " entries, expected rope_dim / 2 = " +
                  std::to_string(p.rope_dim() / 2));
  for (float f : *p.inv_freq())
    if (!std::isfinite(f))
      return failOp("inv_freq holds a non-finite value");
  LLMC_RETURN_IF_ERROR(counts(op, 5, 0));
  LLMC_RETURN_IF_ERROR(
      arena(in(op, 0), "kv", uint64_t(p.latent_dim() + p.rope_dim())));
  LLMC_RETURN_IF_ERROR(weight(in(op, 1), "norm weight", {p.latent_dim()}));
  LLMC_RETURN_IF_ERROR(kvCache(in(op, 2), p.layer()));
  LLMC_RETURN_IF_ERROR(input(in(op, 3), "slots", 2));
  return input(in(op, 4), "positions", 1);
}

Status PlanChecker::checkMLAAttention(const P::Op &op,
                                      const P::MLAAttention &p) {
  LLMC_RETURN_IF_ERROR(mlaSizes(p.layer(), p.latent_dim(), p.rope_dim()));
  LLMC_RETURN_IF_ERROR(finite(p.scale(), "scale"));
  LLMC_RETURN_IF_ERROR(counts(op, 5, 1));
  uint64_t qElems, outElems;
  LLMC_RETURN_IF_ERROR(kvB(in(op, 2), p.heads(), p.nope_dim(), p.v_dim(),
                           p.latent_dim()));
  LLMC_RETURN_IF_ERROR(product(p.heads(), p.nope_dim() + p.rope_dim(),
                               "heads * (nope + rope)", qElems));
  LLMC_RETURN_IF_ERROR(product(p.heads(), p.v_dim(), "heads * v", outElems));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "query", qElems));
  LLMC_RETURN_IF_ERROR(kvCache(in(op, 1), p.layer()));
  LLMC_RETURN_IF_ERROR(input(in(op, 3), "slots", 2));
  LLMC_RETURN_IF_ERROR(input(in(op, 4), "positions", 1));
  return arena(out(op, 0), "output", outElems);
}

Status PlanChecker::checkMLAAbsorbQuery(const P::Op &op,
                                        const P::MLAAbsorbQuery &p) {
  LLMC_RETURN_IF_ERROR(positive(p.rope_dim(), "rope_dim"));
  LLMC_RETURN_IF_ERROR(counts(op, 2, 1));
  LLMC_RETURN_IF_ERROR(kvB(in(op, 1), p.heads(), p.nope_dim(), p.v_dim(),
                           p.latent_dim()));
  uint64_t qElems, outElems;
  LLMC_RETURN_IF_ERROR(product(p.heads(), p.nope_dim() + p.rope_dim(),
                               "heads * (nope + rope)", qElems));
  LLMC_RETURN_IF_ERROR(product(p.heads(), p.latent_dim() + p.rope_dim(),
                               "heads * (latent + rope)", outElems));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "query", qElems));
  return arena(out(op, 0), "output", outElems);
}

Status PlanChecker::checkLatentAttention(const P::Op &op,
                                         const P::LatentAttention &p) {
  LLMC_RETURN_IF_ERROR(mlaSizes(p.layer(), p.latent_dim(), p.rope_dim()));
  LLMC_RETURN_IF_ERROR(positive(p.heads(), "heads"));
  LLMC_RETURN_IF_ERROR(finite(p.scale(), "scale"));
  LLMC_RETURN_IF_ERROR(counts(op, 4, 1));
  uint64_t qElems, outElems;
  LLMC_RETURN_IF_ERROR(product(p.heads(), p.latent_dim() + p.rope_dim(),
                               "heads * (latent + rope)", qElems));
  LLMC_RETURN_IF_ERROR(
      product(p.heads(), p.latent_dim(), "heads * latent", outElems));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "query", qElems));
  LLMC_RETURN_IF_ERROR(kvCache(in(op, 1), p.layer()));
  LLMC_RETURN_IF_ERROR(input(in(op, 2), "slots", 2));
  LLMC_RETURN_IF_ERROR(input(in(op, 3), "positions", 1));
  return arena(out(op, 0), "output", outElems);
}

Status PlanChecker::checkMLAAbsorbOutput(const P::Op &op,
                                         const P::MLAAbsorbOutput &p) {
  LLMC_RETURN_IF_ERROR(counts(op, 2, 1));
  LLMC_RETURN_IF_ERROR(kvB(in(op, 1), p.heads(), p.nope_dim(), p.v_dim(),
                           p.latent_dim()));
  uint64_t inElems, outElems;
  LLMC_RETURN_IF_ERROR(
      product(p.heads(), p.latent_dim(), "heads * latent", inElems));
  LLMC_RETURN_IF_ERROR(product(p.heads(), p.v_dim(), "heads * v", outElems));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", inElems));
  return arena(out(op, 0), "output", outElems);
}

} // namespace llmc::runtime::verify
