//===- MoEOps.cpp - CPU Mixture-of-Experts router and experts -------------===//
//
// The reference for the generated MoE kernels (templates/moe.cuh): plan.fbs
// (MoERouter, MoEExperts) states what they compute; rounding points follow
// transformers 5.24 (the routers of shared/MODELS.md §6, §9, §18 and the
// grouped experts of integrations/moe.py).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cpu/CpuBackend.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/cpu/Numerics.h"
#include "runtime/src/cpu/WeightRows.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmc::runtime::cpu {

namespace P = llmc::plan;

namespace {

/// The index of the best `c[e]` not yet taken: the lower index among equal
/// values (torch.topk leaves their order unspecified: CpuOpsTest,
/// MoERouterTieRuleIsLowerIndexFirst); NaN never wins, and when nothing
/// else is left the lowest untaken index is.
int64_t best(const float *c, const std::vector<bool> &taken, int64_t n) {
  int64_t b = -1;
  for (int64_t e = 0; e < n; ++e)
    if (!taken[size_t(e)] && (b < 0 || c[e] > c[b] || std::isnan(c[b])))
      b = e;
  return b;
}

/// gpt-oss's clamped SwiGLU, every step rounded to `type` as transformers'
/// GptOssExperts._apply_gate computes it in the activation dtype.
float clampedSwiglu(P::DType type, float gate, float up, float limit,
                    float alpha) {
  const float g = std::min(gate, limit);
  const float u = std::clamp(up, -limit, limit);
  const float sig = roundTo(type, 1.0f / (1.0f + std::exp(-roundTo(type, g * alpha))));
  const float glu = roundTo(type, g * sig);
  return roundTo(type, roundTo(type, u + 1.0f) * glu);
}

} // namespace

void CpuBackend::moeRouter(const P::Op &op, const P::MoERouter &p) {
  const P::Operand &xOp = *op.inputs()->Get(0);
  const P::Operand &wOp = *op.inputs()->Get(1);
  const float *bias = p.has_correction_bias() ? load(*op.inputs()->Get(2))
                                              : nullptr;
  // gpt-oss: a bias added to the logits before they are rounded.
  const float *logitBias =
      p.has_logit_bias()
          ? load(*op.inputs()->Get(op.inputs()->size() - 1))
          : nullptr;
  const bool topKSoftmax = p.scoring() == P::RouterScoring::SoftmaxTopK;
  const P::Operand &weightsOut = *op.outputs()->Get(0);
  const P::Operand &idsOut = *op.outputs()->Get(1);
  const float *x = load(xOp);
  const uint8_t *w = weight(wOp);
  const size_t H = size_t(p.hidden());
  const int64_t E = p.experts(), K = p.top_k(), G = p.groups();
  const int64_t perGroup = E / G;
  const size_t rowBytes = H * dtypeSize(wOp.dtype());
  constexpr float kOut = -std::numeric_limits<float>::infinity();

  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    Worker &wk = workers_[t];
    float *s = wk.b.data(), *c = wk.c.data();
    std::vector<bool> taken(static_cast<size_t>(std::max(E, G)));
    std::vector<float> groupScore(static_cast<size_t>(G));
    for (int64_t i = begin; i < end; ++i) {
      const float *xi = x + size_t(i) * H;
      // 1. logits, in fp32 or rounded to x's dtype.
      for (int64_t e = 0; e < E; ++e) {
        const float *we = asFloats(w + size_t(e) * rowBytes, wOp.dtype(), H,
                                   wk.a.data());
        float l = dot(xi, we, H);
        if (logitBias)
          l += logitBias[e];
        s[e] = p.logits_in_fp32() ? l : roundTo(xOp.dtype(), l);
      }
      // 2. scores in fp32 (softmax_top_k: the logits themselves choose;
      // the softmax over the chosen comes in 6).
      if (p.scoring() == P::RouterScoring::Softmax) {
        float m = s[0];
        for (int64_t e = 1; e < E; ++e)
          m = std::max(m, s[e]);
        float sum = 0.0f;
        for (int64_t e = 0; e < E; ++e)
          sum += s[e] = std::exp(s[e] - m);
        for (int64_t e = 0; e < E; ++e)
          s[e] /= sum;
      } else if (p.scoring() == P::RouterScoring::Sigmoid) {
        for (int64_t e = 0; e < E; ++e)
          s[e] = 1.0f / (1.0f + std::exp(-s[e]));
      }
      // 3. choice scores.
      for (int64_t e = 0; e < E; ++e)
        c[e] = bias ? s[e] + bias[e] : s[e];
      // 4. group-limited choice: all but the best top_groups groups are out.
      if (G > 1) {
        for (int64_t q = 0; q < G; ++q) {
          const float *cq = c + q * perGroup;
          float first = kOut, second = kOut;
          for (int64_t e = 0; e < perGroup; ++e) {
            if (cq[e] > first) {
              second = first;
              first = cq[e];
            } else if (cq[e] > second) {
              second = cq[e];
            }
          }
          groupScore[size_t(q)] =
              p.group_score() == P::RouterGroupScore::Max ? first
                                                          : first + second;
        }
        std::fill(taken.begin(), taken.end(), false);
        for (int64_t j = 0; j < p.top_groups(); ++j)
          taken[size_t(best(groupScore.data(), taken, G))] = true;
        for (int64_t q = 0; q < G; ++q)
          if (!taken[size_t(q)])
            for (int64_t e = 0; e < perGroup; ++e)
              c[q * perGroup + e] = kOut;
      }
      // 5. top-k, best first.
      std::fill(taken.begin(), taken.end(), false);
      int32_t *ids = reinterpret_cast<int32_t *>(row(idsOut, i));
      float weights[64];
      float *wsel = K <= 64 ? weights : wk.scores.data();
      float sum = 0.0f;
      for (int64_t j = 0; j < K; ++j) {
        int64_t e = best(c, taken, E);
        taken[size_t(e)] = true;
        ids[j] = int32_t(e);
        wsel[j] = s[e];
        sum += s[e];
      }
      // 6. weights: unbiased scores, normalized, scaled, rounded.
      if (topKSoftmax) {
        const float top = wsel[0]; // the largest chosen logit
        sum = 0.0f;
        for (int64_t j = 0; j < K; ++j)
          sum += wsel[j] = std::exp(wsel[j] - top);
        for (int64_t j = 0; j < K; ++j)
          wsel[j] /= sum;
      }
      const float denominator = sum + float(p.normalize_epsilon());
      for (int64_t j = 0; j < K; ++j) {
        float v = wsel[j];
        if (p.normalize())
          v /= denominator;
        v *= float(p.scaling());
        storeOne(row(weightsOut, i), weightsOut.dtype(), size_t(j), v);
      }
    }
  });
}

void CpuBackend::moeExperts(const P::Op &op, const P::MoEExperts &p) {
  const P::Operand &xOp = *op.inputs()->Get(0);
  const P::Operand &wOp = *op.inputs()->Get(1);
  const P::Operand &idsOp = *op.inputs()->Get(2);
  const P::Operand &guOp = *op.inputs()->Get(3);
  const P::Operand &downOp = *op.inputs()->Get(4);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(xOp);
  const float *routing = load(wOp);
  const size_t H = size_t(p.hidden()), I = size_t(p.intermediate());
  const int64_t K = p.top_k(), T = step_.numTokens;
  const P::DType type = out.dtype(), wtype = wOp.dtype();
  // Rows of [E * 2I, H] and [E * H, I], quantized ones dequantized.
  const WeightRows gateUp(plan_, guOp), down(plan_, downOp);
  // The verifier ties the ids to a router of at most E experts; an id out
  // of range anyway (an arena overwritten in between) contributes nothing,
  // as in the generated kernels, rather than reading outside the weights.
  const size_t E = size_t(p.experts());
  auto expertOf = [&](int64_t t, int64_t j) {
    return size_t(uint32_t(reinterpret_cast<const int32_t *>(row(idsOp, t))[j]));
  };
  // With scale_input (Llama 4) expert e reads round(w[t, j] * x) and its
  // output is summed unweighted.
  const bool scaleInput = p.scale_input();
  // gpt-oss: biases after each rounded product ([E, 2I] and [E, H], read
  // in place), and the clamped SwiGLU.
  const P::Operand *guBiasOp = p.has_biases() ? op.inputs()->Get(5) : nullptr;
  const P::Operand *downBiasOp =
      p.has_biases() ? op.inputs()->Get(6) : nullptr;
  auto biasAt = [&](const P::Operand &b, size_t index) {
    float v;
    const size_t es = dtypeSize(b.dtype());
    return *asFloats(weight(b) + index * es, b.dtype(), 1, &v);
  };
  const float limit = float(p.swiglu_limit()), alpha = float(p.swiglu_alpha());
  // m[t, j] = round(act(round(gate_e x))) * round(up_e x), in x's dtype.
  float *m = scratch_.data() + scratchUsed_;
  assert(scratchUsed_ + size_t(T * K) * I <= scratch_.size());
  scratchUsed_ += size_t(T * K) * I;
  pool_->parallelFor(T * K, [&](int64_t begin, int64_t end, int t) {
    Worker &wk = workers_[t];
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t i = pair / K, j = pair % K;
      const size_t e = expertOf(i, j);
      const float *xi = x + size_t(i) * H;
      float *mi = m + size_t(pair) * I;
      if (e >= E) {
        std::fill(mi, mi + I, 0.0f);
        continue;
      }
      if (scaleInput) {
        float *xs = wk.c.data();
        for (size_t h = 0; h < H; ++h)
          xs[h] = roundTo(type, routing[pair] * xi[h]);
        xi = xs;
      }
      for (size_t n = 0; n < I; ++n) {
        float gv = roundTo(
            type, dot(xi, gateUp.row(e * 2 * I + n, wk.a.data()), H));
        float uv = roundTo(
            type, dot(xi, gateUp.row(e * 2 * I + I + n, wk.b.data()), H));
        if (guBiasOp) {
          gv = roundTo(type, gv + biasAt(*guBiasOp, e * 2 * I + n));
          uv = roundTo(type, uv + biasAt(*guBiasOp, e * 2 * I + I + n));
        }
        if (limit > 0)
          mi[n] = clampedSwiglu(type, gv, uv, limit, alpha);
        else
          mi[n] =
              roundTo(type, roundTo(type, activate(p.activation(), gv)) * uv);
      }
    }
  });
  // y[t] = round(sum_j round_w(w[t, j] * round(down_e m[t, j]))).
  pool_->parallelFor(T, [&](int64_t begin, int64_t end, int t) {
    Worker &wk = workers_[t];
    for (int64_t i = begin; i < end; ++i) {
      for (size_t n = 0; n < H; ++n) {
        float acc = 0.0f;
        for (int64_t j = 0; j < K; ++j) {
          const size_t e = expertOf(i, j);
          if (e >= E)
            continue;
          const float *d = down.row(e * H + n, wk.a.data());
          float y = roundTo(type, dot(m + size_t(i * K + j) * I, d, I));
          if (downBiasOp)
            y = roundTo(type, y + biasAt(*downBiasOp, e * H + n));
          acc += scaleInput ? y : roundTo(wtype, routing[i * K + j] * y);
        }
        storeOne(row(out, i), type, n, acc);
      }
    }
  });
}

void CpuBackend::sigmoidGate(const P::Op &op, const P::SigmoidGate &p) {
  const P::Operand &xOp = *op.inputs()->Get(0);
  const P::Operand &wOp = *op.inputs()->Get(1);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(xOp);
  const float *v = load(*op.inputs()->Get(2));
  const size_t H = size_t(p.hidden()), N = size_t(p.size());
  const P::DType type = out.dtype();
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    Worker &wk = workers_[t];
    const float *w = asFloats(weight(wOp), wOp.dtype(), H, wk.a.data());
    float *y = wk.b.data();
    for (int64_t i = begin; i < end; ++i) {
      const float logit = roundTo(type, dot(x + size_t(i) * H, w, H));
      const float g = roundTo(type, 1.0f / (1.0f + std::exp(-logit)));
      for (size_t n = 0; n < N; ++n)
        y[n] = g * v[size_t(i) * N + n];
      narrow(y, type, row(out, i), N);
    }
  });
}

} // namespace llmc::runtime::cpu
