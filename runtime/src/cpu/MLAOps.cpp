//===- MLAOps.cpp - CPU Multi-head Latent Attention -----------------------===//
//
// The latent cache write (kv_a_layernorm + decoupled RoPE + store), MLA in
// its expanded form (per-head keys and values up-projected from the cached
// latent rows, as transformers computes it) and in its absorbed form
// (queries folded into the latent space, one shared row per position).
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

namespace {

/// softmax(scores[0..n)) in place, fp32; returns nothing, scores sum to 1.
void softmaxInPlace(float *scores, size_t n) {
  float maxScore = -std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < n; ++j)
    maxScore = std::max(maxScore, scores[j]);
  float sum = 0.0f;
  for (size_t j = 0; j < n; ++j) {
    scores[j] = std::exp(scores[j] - maxScore);
    sum += scores[j];
  }
  for (size_t j = 0; j < n; ++j)
    scores[j] /= sum;
}

} // namespace

void CpuBackend::latentCacheWrite(const P::Op &op, const P::LatentCacheWrite &p) {
  const P::Operand &kvOp = *op.inputs()->Get(0);
  const float *kv = load(kvOp);
  const float *w = load(*op.inputs()->Get(1));
  Cache &cache = caches_[p.layer()];
  const size_t latent = size_t(p.latent_dim()), half = size_t(p.rope_dim()) / 2;
  const size_t rowElems = cache.rowElems, rowBytes = rowElems * dtypeSize(cache.dtype);
  const float eps = float(p.eps());
  const P::DType type = kvOp.dtype();
  const P::DType ropeType = p.rotate_in_fp32() ? P::DType::F32 : type;
  const bool interleaved = p.layout() == P::RopeLayout::Interleaved;
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    float *cosines = workers_[t].b.data();
    float *sines = workers_[t].c.data();
    for (int64_t i = begin; i < end; ++i) {
      const float *x = kv + size_t(i) * rowElems;
      // kv_a_layernorm over the latent only: weight * x.to(dtype) * r.
      float r = 1.0f / std::sqrt(sumSquares(x, latent) / float(latent) + eps);
      for (size_t k = 0; k < latent; ++k)
        y[k] = roundTo(type, roundTo(type, x[k] * r) * w[k]);
      ropeAngles(step_.positions[i], p.inv_freq()->data(), half,
                 float(p.attention_scaling()), ropeType, cosines, sines);
      ropeRotate(x + latent, y + latent, half, interleaved, cosines, sines,
                 ropeType);
      const size_t row = cacheRow(cache, step_.slots[i], step_.positions[i]);
      // The rotated key is rounded to the activation dtype first (k_pe).
      for (size_t k = latent; k < rowElems; ++k)
        y[k] = roundTo(type, y[k]);
      narrow(y, cache.dtype, cache.data.data() + row * rowBytes, rowElems);
    }
  });
}

void CpuBackend::mlaAttention(const P::Op &op, const P::MLAAttention &p) {
  const P::Operand &qOp = *op.inputs()->Get(0);
  const P::Operand &kvB = *op.inputs()->Get(2);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *query = load(qOp);
  const Cache &cache = caches_[p.layer()];
  const size_t heads = size_t(p.heads()), latent = size_t(p.latent_dim()),
               rope = size_t(p.rope_dim()), nope = size_t(p.nope_dim()),
               vDim = size_t(p.v_dim());
  const size_t qDim = nope + rope, perHead = nope + vDim;
  const size_t cacheRowBytes = cache.rowElems * dtypeSize(cache.dtype);
  const size_t wRowBytes = latent * dtypeSize(kvB.dtype());
  const uint8_t *wBytes = weight(kvB);
  const float scale = float(p.scale());
  const P::DType type = qOp.dtype();
  const size_t outElemSize = dtypeSize(out.dtype());
  // One head per work item: its keys and values are up-projected once per
  // sequence and position, then every token of the step of that sequence
  // attends to them (tokens of a sequence come in increasing positions).
  pool_->parallelFor(int64_t(heads), [&](int64_t begin, int64_t end, int t) {
    Worker &w = workers_[t];
    float *latentRow = w.a.data();
    float *wRow = w.b.data();
    float *acc = w.c.data();
    float *kv = w.expanded.data(); // [position][nope + v]
    for (int64_t hh = begin; hh < end; ++hh) {
      const size_t h = size_t(hh);
      int32_t slot = -1;
      int64_t expanded = 0; // positions of `slot` up-projected so far
      for (int64_t i = 0; i < step_.numTokens; ++i) {
        const int64_t position = step_.positions[i];
        if (step_.slots[i] != slot) {
          slot = step_.slots[i];
          expanded = 0;
        }
        for (; expanded <= position; ++expanded) {
          const float *c = asFloats(
              cache.data.data() +
                  cacheRow(cache, slot, expanded) * cacheRowBytes,
              cache.dtype, latent, latentRow);
          float *dst = kv + size_t(expanded) * perHead;
          // kv_b_proj's output, rounded to the activation dtype.
          for (size_t r = 0; r < perHead; ++r) {
            const float *wr = asFloats(
                wBytes + (h * perHead + r) * wRowBytes, kvB.dtype(), latent,
                wRow);
            dst[r] = roundTo(type, dot(c, wr, latent));
          }
        }
        const float *q = query + (size_t(i) * heads + h) * qDim;
        float *scores = w.scores.data();
        for (int64_t j = 0; j <= position; ++j) {
          const float *k = kv + size_t(j) * perHead;
          const float *kRope = asFloats(
              cache.data.data() +
                  cacheRow(cache, slot, j) * cacheRowBytes +
                  latent * dtypeSize(cache.dtype),
              cache.dtype, rope, latentRow);
          scores[j] =
              (dot(q, k, nope) + dot(q + nope, kRope, rope)) * scale;
        }
        softmaxInPlace(scores, size_t(position + 1));
        std::fill(acc, acc + vDim, 0.0f);
        for (int64_t j = 0; j <= position; ++j)
          axpy(scores[j], kv + size_t(j) * perHead + nope, acc, vDim);
        narrow(acc, out.dtype(),
               row(out, i) + h * vDim * outElemSize, vDim);
      }
    }
  });
}

void CpuBackend::mlaAbsorbQuery(const P::Op &op, const P::MLAAbsorbQuery &p) {
  const P::Operand &qOp = *op.inputs()->Get(0);
  const P::Operand &kvB = *op.inputs()->Get(1);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *query = load(qOp);
  const size_t heads = size_t(p.heads()), latent = size_t(p.latent_dim()),
               rope = size_t(p.rope_dim()), nope = size_t(p.nope_dim());
  const size_t perHead = nope + size_t(p.v_dim()), qDim = nope + rope;
  const size_t wRowBytes = latent * dtypeSize(kvB.dtype());
  const uint8_t *wBytes = weight(kvB);
  const size_t outElemSize = dtypeSize(out.dtype());
  pool_->parallelFor(step_.numTokens * int64_t(heads), [&](int64_t begin,
                                                           int64_t end, int t) {
    float *y = workers_[t].a.data();
    float *wRow = workers_[t].b.data();
    for (int64_t item = begin; item < end; ++item) {
      const size_t i = size_t(item) / heads, h = size_t(item) % heads;
      const float *q = query + size_t(item) * qDim;
      // y = q_nope W_UK[h]: the sum over W_UK's rows weighted by q_nope.
      std::fill(y, y + latent, 0.0f);
      for (size_t n = 0; n < nope; ++n) {
        const float *wr = asFloats(wBytes + (h * perHead + n) * wRowBytes,
                                   kvB.dtype(), latent, wRow);
        axpy(q[n], wr, y, latent);
      }
      std::copy(q + nope, q + qDim, y + latent);
      narrow(y, out.dtype(),
             row(out, int64_t(i)) + h * (latent + rope) * outElemSize,
             latent + rope);
    }
  });
}

void CpuBackend::latentAttention(const P::Op &op, const P::LatentAttention &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *query = load(*op.inputs()->Get(0));
  const Cache &cache = caches_[p.layer()];
  const size_t heads = size_t(p.heads()), latent = size_t(p.latent_dim());
  const size_t rowElems = cache.rowElems;
  const size_t cacheRowBytes = rowElems * dtypeSize(cache.dtype);
  const float scale = float(p.scale());
  const size_t outElemSize = dtypeSize(out.dtype());
  pool_->parallelFor(step_.numTokens * int64_t(heads), [&](int64_t begin,
                                                           int64_t end, int t) {
    Worker &w = workers_[t];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t i = item / int64_t(heads);
      const size_t h = size_t(item) % heads;
      const int64_t position = step_.positions[i];
      const int32_t slot = step_.slots[i];
      auto rowAt = [&](int64_t j) {
        return asFloats(cache.data.data() +
                            cacheRow(cache, slot, j) * cacheRowBytes,
                        cache.dtype, rowElems, w.a.data());
      };
      const float *q = query + size_t(item) * rowElems;
      float *scores = w.scores.data();
      for (int64_t j = 0; j <= position; ++j)
        scores[j] = dot(q, rowAt(j), rowElems) * scale;
      softmaxInPlace(scores, size_t(position + 1));
      float *acc = w.b.data();
      std::fill(acc, acc + latent, 0.0f);
      for (int64_t j = 0; j <= position; ++j)
        axpy(scores[j], rowAt(j), acc, latent);
      narrow(acc, out.dtype(), row(out, i) + h * latent * outElemSize, latent);
    }
  });
}

void CpuBackend::mlaAbsorbOutput(const P::Op &op, const P::MLAAbsorbOutput &p) {
  const P::Operand &kvB = *op.inputs()->Get(1);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(*op.inputs()->Get(0));
  const size_t heads = size_t(p.heads()), latent = size_t(p.latent_dim()),
               nope = size_t(p.nope_dim()), vDim = size_t(p.v_dim());
  const size_t perHead = nope + vDim;
  const size_t wRowBytes = latent * dtypeSize(kvB.dtype());
  const uint8_t *wBytes = weight(kvB);
  const size_t outElemSize = dtypeSize(out.dtype());
  pool_->parallelFor(step_.numTokens * int64_t(heads), [&](int64_t begin,
                                                           int64_t end, int t) {
    float *y = workers_[t].a.data();
    float *wRow = workers_[t].b.data();
    for (int64_t item = begin; item < end; ++item) {
      const size_t i = size_t(item) / heads, h = size_t(item) % heads;
      const float *xi = x + size_t(item) * latent;
      for (size_t v = 0; v < vDim; ++v) {
        const float *wr = asFloats(
            wBytes + (h * perHead + nope + v) * wRowBytes, kvB.dtype(), latent,
            wRow);
        y[v] = dot(xi, wr, latent);
      }
      narrow(y, out.dtype(), row(out, int64_t(i)) + h * vDim * outElemSize,
             vDim);
    }
  });
}

} // namespace llmc::runtime::cpu
