//===- AttentionOps.cpp - CPU RoPE, KV cache write and attention ----------===//
//
// Causal attention over the cache, with sliding windows, chunks, a score
// softcap and sinks; softmax in fp32.
// Rounding points follow Hugging Face transformers (CpuBackend.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cpu/CpuBackend.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/cpu/Numerics.h"
#include "runtime/src/cpu/RopeMath.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmc::runtime::cpu {

namespace P = llmc::plan;

void CpuBackend::rope(const P::Op &op, const P::Rope &p) {
  const P::Operand &xOp = *op.inputs()->Get(0);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(xOp);
  const int32_t *positions = input(*op.inputs()->Get(1));
  size_t heads = size_t(p.heads()), headDim = size_t(p.head_dim());
  size_t half = size_t(p.rotary_dim()) / 2, rowElems = heads * headDim;
  size_t offset = size_t(p.rotary_offset());
  const float *invFreq = p.inv_freq()->data();
  float scaling = float(p.attention_scaling());
  bool interleaved = p.layout() == P::RopeLayout::Interleaved;
  // Products and cos/sin are rounded to the activation dtype, as in
  // `(q * cos) + (rotate_half(q) * sin)` with cos, sin of q's dtype; or all
  // in fp32 and rounded once by the narrowing store.
  P::DType type = p.rotate_in_fp32() ? P::DType::F32 : xOp.dtype();
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    float *cosines = workers_[t].b.data();
    float *sines = workers_[t].c.data();
    for (int64_t i = begin; i < end; ++i) {
      ropeAngles(positions[i], invFreq, half, scaling, type, cosines, sines);
      const float *xi = x + size_t(i) * rowElems;
      // Everything passes through, then the rotated span is overwritten.
      std::copy(xi, xi + rowElems, y);
      for (size_t h = 0; h < heads; ++h)
        ropeRotate(xi + h * headDim + offset, y + h * headDim + offset, half,
                   interleaved, cosines, sines, type);
      narrow(y, out.dtype(), row(out, i), rowElems);
    }
  });
}

namespace {

/// One head of an FP8 cache row: codes e4m3(x / s) with s its
/// e4m3GroupScale. Returns s.
float quantizeHead(const float *x, size_t n, uint8_t *codes) {
  const float s = e4m3GroupScale(x, n);
  for (size_t e = 0; e < n; ++e)
    codes[e] = floatToF8e4m3(x[e] / s);
  return s;
}

/// Element e of a cached head: its value in fp32 (FP8: code * scale).
const float *headValues(const uint8_t *src, P::DType dtype, const float *scale,
                        size_t n, float *tmp) {
  if (dtype != P::DType::F8E4M3)
    return asFloats(src, dtype, n, tmp);
  for (size_t e = 0; e < n; ++e)
    tmp[e] = f8e4m3ToFloat(src[e]) * *scale;
  return tmp;
}

} // namespace

void CpuBackend::kvCacheWrite(const P::Op &op, const P::KVCacheWrite &p) {
  const float *keys = load(*op.inputs()->Get(0));
  const float *values = load(*op.inputs()->Get(1));
  Cache &cache = caches_[p.layer()];
  size_t rowBytes = cache.rowElems * dtypeSize(cache.dtype);
  const bool scaled = cache.dtype == P::DType::F8E4M3;
  const size_t kvHeads = cache.kvHeads;
  for (int64_t i = 0; i < step_.numTokens; ++i) {
    const size_t row = cacheRow(cache, step_.slots[i], step_.positions[i]);
    uint8_t *dst = cache.data.data() + row * rowBytes;
    const float *k = keys + size_t(i) * cache.rowElems;
    const float *v = values + size_t(i) * cache.rowElems;
    if (!scaled) {
      narrow(k, cache.dtype, dst, cache.rowElems);
      narrow(v, cache.dtype, dst + cache.valuesOffset, cache.rowElems);
      continue;
    }
    const size_t headDim = cache.rowElems / kvHeads;
    float *ks = cache.scales.data() + row * kvHeads;
    float *vs = ks + cache.valueScalesOffset;
    for (size_t h = 0; h < kvHeads; ++h) {
      ks[h] = quantizeHead(k + h * headDim, headDim, dst + h * headDim);
      vs[h] = quantizeHead(v + h * headDim, headDim,
                           dst + cache.valuesOffset + h * headDim);
    }
  }
}

void CpuBackend::attention(const P::Op &op, const P::Attention &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *query = load(*op.inputs()->Get(0));
  const Cache &cache = caches_[p.layer()];
  int64_t heads = p.heads(), window = p.window(), chunk = p.chunk();
  size_t headDim = size_t(p.head_dim());
  int64_t group = heads / p.kv_heads();
  size_t elemSize = dtypeSize(cache.dtype);
  size_t outElemSize = dtypeSize(out.dtype());
  float scale = float(p.scale()), cap = float(p.softcap());
  // One more logit per head in each softmax, with no value (gpt-oss).
  const float *sinks = p.sinks() ? load(*op.inputs()->Get(4)) : nullptr;
  // Format 1.9: the step's own positions from its keys and values.
  const uint32_t stepInput = p.sinks() ? 5 : 4;
  const float *stepKeys =
      p.step_kv() ? load(*op.inputs()->Get(stepInput)) : nullptr;
  const float *stepValues =
      p.step_kv() ? load(*op.inputs()->Get(stepInput + 1)) : nullptr;
  pool_->parallelFor(step_.numTokens * heads, [&](int64_t begin, int64_t end,
                                                  int t) {
    Worker &w = workers_[t];
    for (int64_t item = begin; item < end; ++item) {
      int64_t i = item / heads, h = item % heads;
      // Query head h reads KV head h / (heads / kv_heads).
      size_t kvHead = size_t(h / group);
      int64_t position = step_.positions[i];
      // The first position this token sees: causal, then window, chunk.
      int64_t first = 0;
      if (window > 0)
        first = std::max<int64_t>(first, position - window + 1);
      if (chunk > 0)
        first = std::max<int64_t>(first, position - position % chunk);
      const int32_t slot = step_.slots[i];
      auto rowAt = [&](int64_t j) {
        size_t r = cacheRow(cache, slot, j);
        return cache.data.data() +
               (r * cache.rowElems + kvHead * headDim) * elemSize;
      };
      // An FP8 head's key scale (the value scale valueScalesOffset on).
      auto scaleAt = [&](int64_t j) {
        size_t r = cacheRow(cache, slot, j);
        return cache.scales.empty()
                   ? nullptr
                   : cache.scales.data() + r * cache.kvHeads + kvHead;
      };
      // With step_kv: the step token at position j of this sequence, or -1
      // (a sequence's tokens are consecutive rows and positions).
      auto stepRow = [&](int64_t j) -> int64_t {
        const int64_t r = i - (position - j);
        return stepKeys && r >= 0 && step_.slots[r] == slot &&
                       step_.positions[r] == j
                   ? r
                   : -1;
      };
      // Head kvHead of key or value j, as the cache holds it.
      auto keyOrValue = [&](int64_t j, bool value) -> const float * {
        if (const int64_t r = stepRow(j); r >= 0) {
          const float *src = (value ? stepValues : stepKeys) +
                             size_t(r) * cache.rowElems + kvHead * headDim;
          for (size_t e = 0; e < headDim; ++e)
            w.a[e] = roundTo(cache.dtype, src[e]);
          return w.a.data();
        }
        const float *scale = scaleAt(j);
        if (!value)
          return headValues(rowAt(j), cache.dtype, scale, headDim, w.a.data());
        return headValues(rowAt(j) + cache.valuesOffset, cache.dtype,
                          scale ? scale + cache.valueScalesOffset : nullptr,
                          headDim, w.a.data());
      };
      const float *q = query + size_t(item) * headDim;
      float *scores = w.scores.data();
      float maxScore = -std::numeric_limits<float>::infinity();
      for (int64_t j = first; j <= position; ++j) {
        const float *k = keyOrValue(j, false);
        float s = dot(q, k, headDim) * scale;
        if (cap > 0)
          s = cap * std::tanh(s / cap);
        scores[j - first] = s;
        maxScore = std::max(maxScore, s);
      }
      if (sinks)
        maxScore = std::max(maxScore, sinks[h]);
      float sum = sinks ? std::exp(sinks[h] - maxScore) : 0.0f;
      for (int64_t j = first; j <= position; ++j) {
        float e = std::exp(scores[j - first] - maxScore);
        scores[j - first] = e;
        sum += e;
      }
      float *acc = w.b.data();
      std::fill(acc, acc + headDim, 0.0f);
      for (int64_t j = first; j <= position; ++j) {
        axpy(scores[j - first] / sum, keyOrValue(j, true), acc, headDim);
      }
      narrow(acc, out.dtype(), row(out, i) + size_t(h) * headDim * outElemSize,
             headDim);
    }
  });
}

} // namespace llmc::runtime::cpu
