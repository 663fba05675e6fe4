//===- AllOpsPlan.cpp - one plan with every op kind and variant -----------===//

#include "test/unit/codegen/AllOpsPlan.h"

#include <cmath>

namespace llmc::runtime::test {

TestPlan allOpsPlan(P::DType dtype, int64_t maxTokens, int64_t maxSeqLen) {
  constexpr int64_t kVocab = 80, kHidden = 64, kHeads = 4, kKVHeads = 2,
                    kHeadDim = 16, kRotary = 8, kFF = 96;
  TestPlan t;
  t.vocab = kVocab;
  t.hidden = kHidden;
  t.numLayers = 2;
  t.maxTokens = maxTokens;
  t.maxSeqLen = maxSeqLen;
  t.dtype = dtype;
  t.kvCaches = {{kKVHeads, kHeadDim, dtype, 0}, {kKVHeads, kHeadDim, dtype, 6}};
  const int64_t h = kHidden, qDim = kHeads * kHeadDim,
                kvDim = kKVHeads * kHeadDim;
  uint64_t seed = 100;
  auto w = [&](const std::string &name, std::vector<int64_t> shape,
               float scale) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return t.weight(name, shape, randomValues(size_t(n), seed++, scale),
                    dtype);
  };
  auto ones = [&](const std::string &name, int64_t n, float spread) {
    std::vector<float> v = randomValues(size_t(n), seed++, spread);
    for (float &x : v)
      x += 1.0f;
    return t.weight(name, {n}, v, dtype);
  };
  float s = 1.0f / std::sqrt(float(h));
  P::Operand embed = w("embed", {kVocab, h}, 1.0f);
  P::Operand inNorm = w("in_norm", {h}, 0.2f); // (1 + w): Gemma's form
  P::Operand wq = w("q", {qDim, h}, s), bq = w("q_bias", {qDim}, 0.1f);
  P::Operand wk = w("k", {kvDim, h}, s), wv = w("v", {kvDim, h}, s);
  P::Operand wo = w("o", {h, qDim}, s);
  P::Operand postNorm = ones("post_norm", h, 0.2f);
  P::Operand wg = w("gate", {kFF, h}, s), wu = w("up", {kFF, h}, s);
  P::Operand wg2 = w("gate2", {kFF, h}, s), wu2 = w("up2", {kFF, h}, s);
  P::Operand wd = w("down", {h, kFF}, 1.0f / std::sqrt(float(kFF)));
  P::Operand finalNorm = ones("final_norm", h, 0.2f);
  P::Operand lm = w("lm_head", {kVocab, h}, s);

  auto a = [&](uint64_t n) { return t.arena(n, dtype); };
  P::Operand h0 = a(h), x = a(h), q = a(qDim), k = a(kvDim), v = a(kvDim),
             qn = a(qDim), qr = a(qDim), kr = a(kvDim), attn = a(qDim),
             attnW = a(qDim), o = a(h), normed = a(h), sum = a(h),
             g = a(kFF), u = a(kFF), m = a(kFF), m2 = a(kFF), m3 = a(kFF),
             d = a(h), dc = a(h), r = a(h), f = a(h), logits = a(kVocab),
             kn = a(kvDim);

  std::vector<float> invFreq = ropeInvFreq(kRotary, 10000.0);
  AttentionParams chunked;
  chunked.layer = 0;
  chunked.heads = kHeads;
  chunked.kvHeads = kKVHeads;
  chunked.headDim = kHeadDim;
  chunked.scale = 1.0 / std::sqrt(double(kHeadDim));
  chunked.chunk = 8;
  chunked.softcap = 20.0;
  AttentionParams windowed = chunked;
  windowed.layer = 1;
  windowed.chunk = 0;
  windowed.softcap = 0;
  windowed.window = 6;

  t.prefill = {
      {embeddingOp(kVocab, h, 2.0, embed, h0)},
      {rmsNormOp(h, P::RMSNormVariant::OnePlusWeight, 1e-6, h0, &inNorm, x)},
      {linearOp(h, qDim, x, wq, &bq, q), linearOp(h, kvDim, x, wk, nullptr, k),
       linearOp(h, kvDim, x, wv, nullptr, v),
       rmsNormOp(kHeadDim, P::RMSNormVariant::NoWeight, 1e-6, q, nullptr, qn),
       rmsNormOp(kHeadDim, P::RMSNormVariant::NoWeight, 1e-6, k, nullptr, kn),
       ropeOp(kHeads, kHeadDim, kRotary, P::RopeLayout::Interleaved, 0.9,
              invFreq, qn, qr),
       ropeOp(kKVHeads, kHeadDim, kRotary, P::RopeLayout::Interleaved, 0.9,
              invFreq, kn, kr),
       kvCacheWriteOp(0, kr, v, t.cache(0)),
       kvCacheWriteOp(1, kr, v, t.cache(1))},
      {attentionOp(chunked, qr, t.cache(0), attn)},
      {attentionOp(windowed, qr, t.cache(1), attnW)},
      {addOp(qDim, attn, attnW, attn)}, // in place
      {linearOp(qDim, h, attn, wo, nullptr, o)},
      {addRmsNormOp(h, P::RMSNormVariant::WeightInFp32, 1e-5, o, h0,
                    &postNorm, normed, sum)},
      {linearOp(h, kFF, normed, wg, nullptr, g),
       linearOp(h, kFF, normed, wu, nullptr, u),
       gluOp(kFF, P::Activation::GELUTanh, g, u, m)},
      {gatedLinearOp(h, kFF, P::Activation::GELU, normed, wg2, wu2, m2)},
      {addOp(kFF, m, m2, m3)},
      {linearOp(kFF, h, m3, wd, nullptr, d)},
      {softcapOp(h, 5.0, d, dc)},
      {addOp(h, dc, sum, r)},
      {rmsNormOp(h, P::RMSNormVariant::CastBeforeWeight, 1e-5, r, &finalNorm,
                 f)},
      {lmHeadOp(h, kVocab, f, lm, logits)},
  };
  t.decode = t.prefill;
  t.prefillLogits = t.decodeLogits = logits;
  return t;
}

} // namespace llmc::runtime::test
