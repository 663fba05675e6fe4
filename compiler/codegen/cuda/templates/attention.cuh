// attention.cuh - causal attention over the KV cache with an online softmax
// (scores never materialized). Token t of the step attends to positions
// [attn_first(p), p] of its sequence, p = positions[t]: the window and the
// chunk move the first position, as in the CPU reference. Each lane of a
// warp owns head-dimension elements lane, lane + 32, ...; a score is a
// warp-wide sum.
//
//  - attn_prefill: flash attention. A block takes QT consecutive tokens of
//    one query head (prefill steps hold one sequence at consecutive
//    positions), stages KT keys and values at a time in shared memory and
//    reuses them for all QT queries.
//  - attn_decode_split + attn_decode_combine: flash decoding. The keys of
//    each token are split in up to SPLITS ranges (as many as its length
//    needs) run by different blocks, each for the query heads of one KV
//    head (GQA: every key and value row read once per step), whose partial
//    maxima, sums and outputs go to scratch and are merged by the second
//    kernel.
//
// An FP8 cache (TC llmc_e4m3) holds codes and one scale per token and KV
// head: a cached element is to_f(code) * scale, rounded once in fp32 as
// the CPU reference widens it (other caches: times 1, exact).
//
// With SINKS, head h's softmax has one more logit, sinks[h], with no value
// (gpt-oss): folded in once per row, after the keys (prefill) or when the
// splits are merged (decode).

template <int WINDOW, int CHUNK>
__device__ __forceinline__ int attn_first(int p) {
  int first = 0;
  if (WINDOW > 0)
    first = max(first, p - WINDOW + 1);
  if (CHUNK > 0)
    first = max(first, p - p % (CHUNK > 0 ? CHUNK : 1));
  return first;
}

template <bool SOFTCAP>
__device__ __forceinline__ float attn_score(float dot, float scale,
                                            float cap) {
  float s = dot * scale;
  if (SOFTCAP)
    s = cap * tanhf(s / cap);
  return s;
}

// One step of the online softmax: folds score s with value row v (DPL
// elements of this lane) into (m, l, acc).
template <int DPL>
__device__ __forceinline__ void attn_fold(float s, const float *v, float &m,
                                          float &l, float *acc) {
  const float m_new = fmaxf(m, s);
  const float corr = m == -LLMC_INF ? 0.0f : expf(m - m_new);
  const float p = expf(s - m_new);
  l = l * corr + p;
#pragma unroll
  for (int i = 0; i < DPL; ++i)
    acc[i] = acc[i] * corr + p * v[i];
  m = m_new;
}

// Adds a value-less logit to the softmax of (m, l, acc): the attention sink.
template <int DPL>
__device__ __forceinline__ void attn_sink(float sink, float &m, float &l,
                                          float *acc) {
  const float m_new = fmaxf(m, sink);
  const float corr = m == -LLMC_INF ? 0.0f : expf(m - m_new);
  l = l * corr + expf(sink - m_new);
#pragma unroll
  for (int i = 0; i < DPL; ++i)
    acc[i] *= corr;
  m = m_new;
}

template <int HEADS, int KV_HEADS, int D, int WINDOW, int CHUNK, int QT,
          int KT, bool SOFTCAP, bool SINKS, bool STEP, typename TQ,
          typename TC, typename TS, typename TK, typename TO>
__device__ __forceinline__ void attn_prefill(int T, const TQ *q, llmc_kv kv,
                                             const int *slots,
                                             const int *positions,
                                             const TS *sinks,
                                             const TK *step_k,
                                             const TK *step_v, TO *out,
                                             float scale, float cap) {
  constexpr int WARPS = 4, QPW = QT / WARPS, DPL = (D + 31) / 32;
  constexpr int ROW = KV_HEADS * D;
  constexpr bool SCALED = llmc_scaled_kv<TC>::value;
  static_assert(QT % WARPS == 0, "whole queries per warp");
  static_assert(!(STEP && SCALED), "an FP8 cache reads no step keys");
  __shared__ TC ks[KT][D];
  __shared__ TC vs[KT][D];
  __shared__ float kss[SCALED ? KT : 1], vss[SCALED ? KT : 1];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int h = blockIdx.x, kvh = h / (HEADS / KV_HEADS);
  const int t0 = blockIdx.y * QT;
  const int tl = min(T, t0 + QT) - 1;
  const int slot = slots[t0];
  // STEP: positions from step0 on are the step's (one sequence in prefill,
  // its token t at positions[0] + t), the cache holds those before.
  const int step0 = positions[0];
  const TC *kbase = static_cast<const TC *>(kv.keys);
  const TC *vbase = static_cast<const TC *>(kv.values);

  float qf[QPW][DPL], acc[QPW][DPL], m[QPW], l[QPW];
  int pos[QPW], first[QPW];
#pragma unroll
  for (int i = 0; i < QPW; ++i) {
    const int t = t0 + warp * QPW + i;
    const bool live = t <= tl;
    pos[i] = live ? positions[t] : -1;
    first[i] = live ? attn_first<WINDOW, CHUNK>(pos[i]) : 0;
    m[i] = -LLMC_INF;
    l[i] = 0.0f;
#pragma unroll
    for (int d = 0; d < DPL; ++d) {
      const int e = lane + 32 * d;
      qf[i][d] = live && e < D ? to_f(q[(size_t(t) * HEADS + h) * D + e]) : 0.0f;
      acc[i][d] = 0.0f;
    }
  }
  // Keys any query of the block sees.
  const int lo = attn_first<WINDOW, CHUNK>(positions[t0]);
  const int hi = positions[tl];
  for (int j0 = lo; j0 <= hi; j0 += KT) {
    __syncthreads(); // the previous tile is no longer read
    for (int e = threadIdx.x; e < KT * D; e += blockDim.x) {
      const int jj = e / D, d = e % D, j = j0 + jj;
      bool stepped = false;
      if constexpr (STEP) {
        if (j >= step0 && j <= hi) {
          // The step's own position: its key as the cache would hold it.
          const size_t r = size_t(j - step0) * ROW + size_t(kvh) * D + d;
          ks[jj][d] = from_f<TC>(to_f(step_k[r]));
          vs[jj][d] = from_f<TC>(to_f(step_v[r]));
          stepped = true;
        }
      }
      if (!stepped && j <= hi) {
        const size_t r = llmc_kv_row(kv, slot, j) * ROW + size_t(kvh) * D + d;
        ks[jj][d] = kbase[r];
        vs[jj][d] = vbase[r];
      }
    }
    if (SCALED)
      for (int jj = threadIdx.x; jj < KT; jj += blockDim.x) {
        const int j = j0 + jj;
        if (j <= hi) {
          const size_t r = llmc_kv_row(kv, slot, j) * KV_HEADS + kvh;
          kss[jj] = kv.key_scales[r];
          vss[jj] = kv.value_scales[r];
        }
      }
    __syncthreads();
    const int jn = min(KT, hi - j0 + 1);
    for (int jj = 0; jj < jn; ++jj) {
      const int j = j0 + jj;
      const float ksc = SCALED ? kss[jj] : 1.0f;
      const float vsc = SCALED ? vss[jj] : 1.0f;
      float kf[DPL], vf[DPL];
#pragma unroll
      for (int d = 0; d < DPL; ++d) {
        const int e = lane + 32 * d;
        kf[d] = e < D ? to_f(ks[jj][e]) * ksc : 0.0f;
        vf[d] = e < D ? to_f(vs[jj][e]) * vsc : 0.0f;
      }
#pragma unroll
      for (int i = 0; i < QPW; ++i) {
        if (j < first[i] || j > pos[i])
          continue; // uniform across the warp
        float dot = 0.0f;
#pragma unroll
        for (int d = 0; d < DPL; ++d)
          dot = fmaf(qf[i][d], kf[d], dot);
        attn_fold<DPL>(attn_score<SOFTCAP>(warp_sum(dot), scale, cap), vf,
                       m[i], l[i], acc[i]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < QPW; ++i) {
    const int t = t0 + warp * QPW + i;
    if (t > tl)
      continue;
    if (SINKS)
      attn_sink<DPL>(to_f(sinks[h]), m[i], l[i], acc[i]);
#pragma unroll
    for (int d = 0; d < DPL; ++d) {
      const int e = lane + 32 * d;
      if (e < D)
        out[(size_t(t) * HEADS + h) * D + e] = from_f<TO>(acc[i][d] / l[i]);
    }
  }
}

// Partials: for token t, head h, split s, D + 2 floats at
// ((t * HEADS + h) * SPLITS + s) * (D + 2): max score, sum, D outputs.
// Block (c, t, s) runs split s of token t for the GP query heads
// [c * GP, c * GP + GP), which share one KV head: each key and value row is
// read once for all of them. The split count is chosen from the actual
// length n of the attended range: min(SPLITS, ceil(n / MIN_KEYS)) splits of
// equal size; blocks of the unused splits write empty partials (max -inf),
// which the combine skips.
template <int HEADS, int KV_HEADS, int D, int WINDOW, int CHUNK, int SPLITS,
          bool SOFTCAP, typename TQ, typename TC, int GP = 1,
          int MIN_KEYS = 1>
__device__ __forceinline__ void attn_decode_split(int T, const TQ *q,
                                                  llmc_kv kv, const int *slots,
                                                  const int *positions,
                                                  float *partials, float scale,
                                                  float cap) {
  static_assert((HEADS / KV_HEADS) % GP == 0,
                "a block's heads must share one KV head");
  constexpr int WARPS = 4, DPL = (D + 31) / 32, ROW = KV_HEADS * D;
  constexpr bool SCALED = llmc_scaled_kv<TC>::value;
  __shared__ float wm[WARPS][GP], wl[WARPS][GP];
  __shared__ float wacc[WARPS][GP][D];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int h0 = blockIdx.x * GP, t = blockIdx.y, s = blockIdx.z;
  const int kvh = h0 / (HEADS / KV_HEADS);
  const int p = positions[t];
  const int first = attn_first<WINDOW, CHUNK>(p);
  const int n = p - first + 1;
  const int splits = min(SPLITS, (n + MIN_KEYS - 1) / MIN_KEYS);
  const int len = (n + splits - 1) / splits;
  const int j0 = first + s * len, j1 = min(p + 1, j0 + len);
  const TC *kbase = static_cast<const TC *>(kv.keys);
  const TC *vbase = static_cast<const TC *>(kv.values);
  const int slot = slots[t];

  float qf[GP][DPL], acc[GP][DPL], m[GP], l[GP];
#pragma unroll
  for (int g = 0; g < GP; ++g) {
    m[g] = -LLMC_INF;
    l[g] = 0.0f;
#pragma unroll
    for (int d = 0; d < DPL; ++d) {
      const int e = lane + 32 * d;
      qf[g][d] =
          e < D ? to_f(q[(size_t(t) * HEADS + h0 + g) * D + e]) : 0.0f;
      acc[g][d] = 0.0f;
    }
  }
  for (int j = j0 + warp; j < j1; j += WARPS) {
    const size_t row = llmc_kv_row(kv, slot, j);
    const size_t r = row * ROW + size_t(kvh) * D;
    const float ksc = SCALED ? kv.key_scales[row * KV_HEADS + kvh] : 1.0f;
    const float vsc = SCALED ? kv.value_scales[row * KV_HEADS + kvh] : 1.0f;
    float kf[DPL], vf[DPL];
#pragma unroll
    for (int d = 0; d < DPL; ++d) {
      const int e = lane + 32 * d;
      kf[d] = e < D ? to_f(kbase[r + e]) * ksc : 0.0f;
      vf[d] = e < D ? to_f(vbase[r + e]) * vsc : 0.0f;
    }
#pragma unroll
    for (int g = 0; g < GP; ++g) {
      float dot = 0.0f;
#pragma unroll
      for (int d = 0; d < DPL; ++d)
        dot = fmaf(qf[g][d], kf[d], dot);
      attn_fold<DPL>(attn_score<SOFTCAP>(warp_sum(dot), scale, cap), vf, m[g],
                     l[g], acc[g]);
    }
  }
#pragma unroll
  for (int g = 0; g < GP; ++g) {
    if (lane == 0) {
      wm[warp][g] = m[g];
      wl[warp][g] = l[g];
    }
#pragma unroll
    for (int d = 0; d < DPL; ++d)
      if (lane + 32 * d < D)
        wacc[warp][g][lane + 32 * d] = acc[g][d];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < GP * (D + 2); i += blockDim.x) {
    const int g = i / (D + 2), d = i % (D + 2);
    float mx = -LLMC_INF;
#pragma unroll
    for (int w = 0; w < WARPS; ++w)
      mx = fmaxf(mx, wm[w][g]);
    float v = 0.0f;
    if (d == 0) {
      v = mx;
    } else {
#pragma unroll
      for (int w = 0; w < WARPS; ++w)
        if (wm[w][g] != -LLMC_INF)
          v += (d == 1 ? wl[w][g] : wacc[w][g][d - 2]) * expf(wm[w][g] - mx);
    }
    partials[((size_t(t) * HEADS + h0 + g) * SPLITS + s) * (D + 2) + d] = v;
  }
}

template <int HEADS, int D, int SPLITS, bool SINKS, typename TS, typename TO>
__device__ __forceinline__ void attn_decode_combine(const float *partials,
                                                    const TS *sinks, TO *out) {
  const int h = blockIdx.x, t = blockIdx.y;
  const float *part = partials + (size_t(t) * HEADS + h) * SPLITS * (D + 2);
  float mx = -LLMC_INF;
#pragma unroll
  for (int s = 0; s < SPLITS; ++s)
    mx = fmaxf(mx, part[s * (D + 2)]);
  const float sink = SINKS ? to_f(sinks[h]) : -LLMC_INF;
  mx = fmaxf(mx, sink);
  // The sink's share of the denominator; it adds nothing to the values.
  float l = SINKS ? expf(sink - mx) : 0.0f;
#pragma unroll
  for (int s = 0; s < SPLITS; ++s)
    if (part[s * (D + 2)] != -LLMC_INF)
      l += part[s * (D + 2) + 1] * expf(part[s * (D + 2)] - mx);
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float v = 0.0f;
#pragma unroll
    for (int s = 0; s < SPLITS; ++s)
      if (part[s * (D + 2)] != -LLMC_INF)
        v += part[s * (D + 2) + 2 + d] * expf(part[s * (D + 2)] - mx);
    out[(size_t(t) * HEADS + h) * D + d] = from_f<TO>(v / l);
  }
}

// Transposed ldmatrix (the values' B fragments: keys along k).
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned *r, const void *p) {
#ifdef LLMC_EMULATION
  llmc_emu_ldmatrix_x4_trans(r, p);
#else
  const unsigned addr = unsigned(__cvta_generic_to_shared(p));
  asm volatile(
      "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
      : "r"(addr));
#endif
}

// Two values rounded to T as one word of a 16-bit MMA fragment (x low).
template <typename T>
__device__ __forceinline__ unsigned attn_pack(float x, float y) {
  return unsigned(to_bits(from_f<T>(x))) |
         unsigned(to_bits(from_f<T>(y))) << 16;
}

// The online softmax step of a warp's tile of S fragments (KN n8 tiles of
// m16n8k16 C fragments: a lane holds rows g and g + 8, g = lane / 4), after
// masking: `mx` holds the lane's running max of each row over m and the
// tile's scores; it is reduced over the lane quad, S becomes exp(S - max) (0
// where masked), and l, m and the O accumulators are rescaled.
template <int KN, int DN>
__device__ __forceinline__ void mma_softmax_fold(float (&s)[KN][4],
                                                 float (&mx)[2], float (&m)[2],
                                                 float (&l)[2],
                                                 float (&o)[DN][4]) {
  float corr[2], rs[2] = {0.0f, 0.0f};
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
    mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
    corr[i] = m[i] == -LLMC_INF ? 0.0f : expf(m[i] - mx[i]);
  }
#pragma unroll
  for (int n = 0; n < KN; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int i = e / 2;
      const float p = s[n][e] == -LLMC_INF ? 0.0f : expf(s[n][e] - mx[i]);
      s[n][e] = p;
      rs[i] += p;
    }
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    rs[i] += __shfl_xor_sync(0xffffffffu, rs[i], 1);
    rs[i] += __shfl_xor_sync(0xffffffffu, rs[i], 2);
    l[i] = l[i] * corr[i] + rs[i];
    m[i] = mx[i];
  }
#pragma unroll
  for (int n = 0; n < DN; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      o[n][e] *= corr[e / 2];
}

// O += P V for the tile's KN * 8 keys: P's C fragments are the A fragments
// of the next MMA, as a high and a low T term (round(p), round(p -
// round(p))), and V's B fragments come from rows v[key][c0 + ...] (keys
// along k) through the transposing ldmatrix, DN n8 tiles of dims.
template <int KN, int DN, typename T, int STRIDE>
__device__ __forceinline__ void mma_pv(const float (&s)[KN][4],
                                       T (*v)[STRIDE], int c0,
                                       float (&o)[DN][4]) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int kk = 0; kk < KN / 2; ++kk) {
    const float *p[4] = {&s[2 * kk][0], &s[2 * kk][2], &s[2 * kk + 1][0],
                         &s[2 * kk + 1][2]};
    unsigned hi[4], lo[4];
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const float h0 = round_to<T>(p[r][0]), h1 = round_to<T>(p[r][1]);
      hi[r] = attn_pack<T>(h0, h1);
      lo[r] = attn_pack<T>(p[r][0] - h0, p[r][1] - h1);
    }
#pragma unroll
    for (int dn = 0; dn < DN / 2; ++dn) { // two n8 tiles of d
      unsigned r[4];
      ldmatrix_x4_trans(r, &v[kk * 16 + ((lane >> 3) & 1) * 8 + (lane & 7)]
                             [c0 + dn * 16 + (lane >> 4) * 8]);
      MmaName<T>::mma(o[2 * dn], hi, r);
      MmaName<T>::mma(o[2 * dn], lo, r);
      MmaName<T>::mma(o[2 * dn + 1], hi, r + 2);
      MmaName<T>::mma(o[2 * dn + 1], lo, r + 2);
    }
  }
}

// attn_prefill on tensor cores (FlashAttention-2's scheme) for queries,
// cache and output of one 16-bit type T, D % 16 == 0: a block of 4 warps
// takes 64 consecutive tokens of one query head, 16 rows per warp (its Q
// fragments stay in registers); keys and values of KT positions at a time
// are staged in shared memory. S = Q K^T and O += P V are m16n8k16 MMAs
// with fp32 accumulators (gemm_mma.cuh); the online softmax runs on the S
// fragments, a lane holding rows g and g + 8 (g = lane / 4) of its warp's
// 16, reduced over the lane quad. P enters the second MMA as two T terms,
// round(p) and round(p - round(p)) (two MMAs), so that it keeps about 16
// bits (bf16) and the outputs stay within fp32 rounding of the CPU
// reference's fp32 P, instead of moving by T's rounding of every weight (a
// MoE router downstream can turn that into another expert). Masks, softcap
// and sinks as attn_prefill.
template <int HEADS, int KV_HEADS, int D, int WINDOW, int CHUNK, int KT,
          bool SOFTCAP, bool SINKS, bool STEP, typename T, typename TS>
__device__ __forceinline__ void
attn_prefill_mma(int TT, const T *q, llmc_kv kv, const int *slots,
                 const int *positions, const TS *sinks, const T *step_k,
                 const T *step_v, T *out, float scale, float cap) {
  constexpr int QT = 64, PAD = 8, ROW = KV_HEADS * D;
  constexpr int DK = D / 16, DN = D / 8, KN = KT / 8, VPR = D / 8;
  static_assert(D % 16 == 0 && KT % 16 == 0, "whole 16-wide MMA steps");
  __shared__ __align__(16) T qs[QT][D + PAD];
  __shared__ __align__(16) T ks[KT][D + PAD];
  __shared__ __align__(16) T vs[KT][D + PAD];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int h = blockIdx.x, kvh = h / (HEADS / KV_HEADS);
  const int t0 = blockIdx.y * QT;
  const int tl = min(TT, t0 + QT) - 1;
  const int slot = slots[t0];
  const int step0 = positions[0]; // STEP: as attn_prefill
  const T *kbase = static_cast<const T *>(kv.keys);
  const T *vbase = static_cast<const T *>(kv.values);

  // The block's queries (zeros past the step), 16-byte vectors.
  for (int v = threadIdx.x; v < QT * VPR; v += blockDim.x) {
    const int r = v / VPR, c = (v % VPR) * 8;
    uint4 data = make_uint4(0, 0, 0, 0);
    if (t0 + r <= tl)
      data = *reinterpret_cast<const uint4 *>(
          q + (size_t(t0 + r) * HEADS + h) * D + c);
    *reinterpret_cast<uint4 *>(&qs[r][c]) = data;
  }
  __syncthreads();
  unsigned qa[DK][4];
#pragma unroll
  for (int kk = 0; kk < DK; ++kk)
    ldmatrix_x4(qa[kk], &qs[warp * 16 + lane % 16][kk * 16 + (lane / 16) * 8]);

  int pos[2], first[2];
  float m[2], l[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int t = t0 + warp * 16 + lane / 4 + 8 * i;
    pos[i] = t <= tl ? positions[t] : -1; // a dead row sees no key
    first[i] = t <= tl ? attn_first<WINDOW, CHUNK>(pos[i]) : 0;
    m[i] = -LLMC_INF;
    l[i] = 0.0f;
  }
  float o[DN][4];
#pragma unroll
  for (int n = 0; n < DN; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      o[n][e] = 0.0f;

  const int lo = attn_first<WINDOW, CHUNK>(positions[t0]);
  const int hi = positions[tl];
  for (int j0 = lo; j0 <= hi; j0 += KT) {
    __syncthreads(); // the previous tiles are no longer read
    for (int v = threadIdx.x; v < KT * VPR; v += blockDim.x) {
      const int r = v / VPR, c = (v % VPR) * 8, j = j0 + r;
      uint4 kd = make_uint4(0, 0, 0, 0), vd = make_uint4(0, 0, 0, 0);
      if (STEP && j >= step0 && j <= hi) {
        // The step's own position (the cache's type: copied as is).
        const size_t at = size_t(j - step0) * ROW + size_t(kvh) * D + c;
        kd = *reinterpret_cast<const uint4 *>(step_k + at);
        vd = *reinterpret_cast<const uint4 *>(step_v + at);
      } else if (j <= hi) {
        const size_t at = llmc_kv_row(kv, slot, j) * ROW + size_t(kvh) * D + c;
        kd = *reinterpret_cast<const uint4 *>(kbase + at);
        vd = *reinterpret_cast<const uint4 *>(vbase + at);
      }
      *reinterpret_cast<uint4 *>(&ks[r][c]) = kd;
      *reinterpret_cast<uint4 *>(&vs[r][c]) = vd;
    }
    __syncthreads();

    // S = Q K^T for the tile's KT keys.
    float s[KN][4];
#pragma unroll
    for (int n = 0; n < KN; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        s[n][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < DK; ++kk)
#pragma unroll
      for (int j = 0; j < KN / 2; ++j) { // two n8 key tiles per ldmatrix.x4
        unsigned r[4];
        ldmatrix_x4(r, &ks[j * 16 + (lane & 7) + ((lane >> 4) << 3)]
                          [kk * 16 + ((lane >> 3) & 1) * 8]);
        MmaName<T>::mma(s[2 * j], qa[kk], r);
        MmaName<T>::mma(s[2 * j + 1], qa[kk], r + 2);
      }

    // Online softmax over the rows' visible keys; P rounded to T.
    float mx[2] = {m[0], m[1]};
#pragma unroll
    for (int n = 0; n < KN; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = e / 2, key = j0 + n * 8 + (lane % 4) * 2 + e % 2;
        float v = attn_score<SOFTCAP>(s[n][e], scale, cap);
        if (key > pos[i] || key < first[i])
          v = -LLMC_INF;
        s[n][e] = v;
        mx[i] = fmaxf(mx[i], v);
      }
    mma_softmax_fold<KN, DN>(s, mx, m, l, o);
    mma_pv<KN, DN>(s, vs, 0, o);
  }

#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int t = t0 + warp * 16 + lane / 4 + 8 * i;
    float li = l[i], ci = 1.0f;
    if (SINKS) {
      const float sink = to_f(sinks[h]);
      const float m_new = fmaxf(m[i], sink);
      ci = m[i] == -LLMC_INF ? 0.0f : expf(m[i] - m_new);
      li = li * ci + expf(sink - m_new);
    }
    if (t > tl)
      continue;
#pragma unroll
    for (int n = 0; n < DN; ++n)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int d = n * 8 + (lane % 4) * 2 + c;
        out[(size_t(t) * HEADS + h) * D + d] =
            from_f<T>(o[n][2 * i + c] * ci / li);
      }
  }
}
