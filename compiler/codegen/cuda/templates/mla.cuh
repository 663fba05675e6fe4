// mla.cuh - Multi-head Latent Attention (DeepSeek V2/V3, Kimi K2). Built on
// attention.cuh (attn_fold, attn_decode_combine). L: the latent
// (kv_lora_rank), R: the decoupled RoPE width, N: the no-RoPE query/key
// width, V: the value width; kv_b is [H * (N + V), L], per head N rows of
// W_UK then V rows of W_UV. The latent cache holds one row of L + R per
// token (llmc_kv.keys; no values).
//
//  - latent_cache_write: kv_a_layernorm of the latent, RoPE of the shared
//    key, and the store, one block per token;
//  - mla_absorb_query: [q_nope W_UK || q_rope] per (token, head);
//  - latent_attn_split + attn_decode_combine: flash decoding over the
//    latent rows with WARPS warps of HPW heads each per block, so each row
//    a block stages in shared memory serves WARPS * HPW heads (32 from 32
//    heads on): the cache is read ceil(H / (WARPS * HPW)) times per step,
//    not H;
//  - latent_attn_mma: the same attention on tensor cores for a 16-bit
//    cache, heads packed as the MMA's M rows (FlashMLA's layout, up to 64
//    a block), for decode and prefill alike;
//  - mla_absorb_output: W_UV times the attention output, per head.

// Token t = blockIdx.y: RMSNorm (cast_before_weight) of kv[:L], RoPE of
// kv[L:], stored at row llmc_kv_row(cache, slots[t], positions[t]), as
// the CPU reference (runtime/src/cpu/MLAOps.cpp) rounds them.
template <int L, int R, bool INTERLEAVED, bool FP32, typename TX, typename TW,
          typename TC>
__device__ __forceinline__ void
latent_cache_write(const TX *kv, const TW *w, llmc_kv cache, const int *slots,
                   const int *positions, const float *inv_freq, float scaling,
                   float eps) {
  typedef typename llmc_round_type<FP32, TX>::type TR;
  constexpr int BLOCK = 256, ROW = L + R, VPT = (L + BLOCK - 1) / BLOCK;
  const int t = blockIdx.y;
  const TX *x = kv + size_t(t) * ROW;
  TC *dst = static_cast<TC *>(cache.keys) +
            llmc_kv_row(cache, slots[t], positions[t]) * ROW;
  float v[VPT];
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < VPT; ++j) {
    const int k = threadIdx.x + j * BLOCK;
    v[j] = k < L ? to_f(x[k]) : 0.0f;
    ss += v[j] * v[j];
  }
  const float r = 1.0f / sqrtf(block_sum<BLOCK>(ss) / float(L) + eps);
#pragma unroll
  for (int j = 0; j < VPT; ++j) {
    const int k = threadIdx.x + j * BLOCK;
    if (k < L)
      dst[k] = from_f<TC>(round_to<TX>(round_to<TX>(v[j] * r) * to_f(w[k])));
  }
  for (int k = threadIdx.x; k < R / 2; k += BLOCK) {
    const float angle = float(positions[t]) * inv_freq[k];
    const float c = round_to<TR>(cosf(angle) * scaling);
    const float s = round_to<TR>(sinf(angle) * scaling);
    const int i1 = L + (INTERLEAVED ? 2 * k : k);
    const int i2 = L + (INTERLEAVED ? 2 * k + 1 : k + R / 2);
    const float x1 = to_f(x[i1]), x2 = to_f(x[i2]);
    dst[i1] = from_f<TC>(
        round_to<TX>(round_to<TR>(x1 * c) + round_to<TR>(-x2 * s)));
    dst[i2] = from_f<TC>(
        round_to<TX>(round_to<TR>(x2 * c) + round_to<TR>(x1 * s)));
  }
}

// Block (h, t): out[t, h] = [q_nope W_UK[h] || q_rope], fp32 sums over N.
template <int H, int N, int R, int V, int L, typename TQ, typename TW,
          typename TO>
__device__ __forceinline__ void mla_absorb_query(const TQ *q, const TW *kv_b,
                                                 TO *out) {
  __shared__ float qs[N];
  const int h = blockIdx.x, t = blockIdx.y;
  const TQ *qh = q + (size_t(t) * H + h) * (N + R);
  for (int i = threadIdx.x; i < N; i += blockDim.x)
    qs[i] = to_f(qh[i]);
  __syncthreads();
  TO *o = out + (size_t(t) * H + h) * (L + R);
  const TW *wh = kv_b + size_t(h) * (N + V) * L;
  for (int c = threadIdx.x; c < L; c += blockDim.x) {
    float acc = 0.0f;
    for (int n = 0; n < N; ++n)
      acc = fmaf(qs[n], to_f(wh[size_t(n) * L + c]), acc);
    o[c] = from_f<TO>(acc);
  }
  for (int i = threadIdx.x; i < R; i += blockDim.x)
    o[L + i] = from_f<TO>(to_f(qh[N + i]));
}

// Block (g, t, s): warp w holds heads (g * WARPS + w) * HPW + i, i < HPW,
// (HPW queries and accumulators in registers, each staged row read once
// for all of them); split s of the positions [0, positions[t]] of the
// token's sequence, KT latent rows at a time in shared memory: each row a
// block stages serves WARPS * HPW heads. Partials as attn_decode_split's:
// for token t, head h, split s, L + 2 floats at
// ((t * H + h) * SPLITS + s) * (L + 2).
template <int H, int L, int R, int WARPS, int HPW, int SPLITS, int KT,
          typename TQ, typename TC>
__device__ __forceinline__ void
latent_attn_split(const TQ *ql, llmc_kv cache, const int *slots,
                  const int *positions, float *partials, float scale) {
  constexpr int D = L + R, DPL = (D + 31) / 32, LPL = (L + 31) / 32;
  __shared__ float rows[KT][D];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int h0 = (blockIdx.x * WARPS + warp) * HPW;
  const int t = blockIdx.y, s = blockIdx.z;
  const int p = positions[t];
  const int len = (p + 1 + SPLITS - 1) / SPLITS;
  const int j0 = s * len, j1 = min(p + 1, j0 + len);
  const TC *base = static_cast<const TC *>(cache.keys);
  const int slot = slots[t];

  float qf[HPW][DPL], acc[HPW][LPL], m[HPW], l[HPW];
#pragma unroll
  for (int i = 0; i < HPW; ++i) {
    const int h = h0 + i;
#pragma unroll
    for (int d = 0; d < DPL; ++d) {
      const int e = lane + 32 * d;
      qf[i][d] = h < H && e < D ? to_f(ql[(size_t(t) * H + h) * D + e]) : 0.0f;
    }
#pragma unroll
    for (int d = 0; d < LPL; ++d)
      acc[i][d] = 0.0f;
    m[i] = -LLMC_INF;
    l[i] = 0.0f;
  }
  for (int jt = j0; jt < j1; jt += KT) {
    const int n = min(KT, j1 - jt);
    __syncthreads();
    for (int i = threadIdx.x; i < n * D; i += blockDim.x) {
      const int r = i / D, e = i % D;
      rows[r][e] = to_f(base[llmc_kv_row(cache, slot, jt + r) * D + e]);
    }
    __syncthreads();
    if (h0 >= H)
      continue;
    for (int r = 0; r < n; ++r) {
      float vf[LPL];
#pragma unroll
      for (int d = 0; d < LPL; ++d) {
        const int e = lane + 32 * d;
        vf[d] = e < L ? rows[r][e] : 0.0f;
      }
#pragma unroll
      for (int i = 0; i < HPW; ++i) {
        float dot = 0.0f;
#pragma unroll
        for (int d = 0; d < DPL; ++d) {
          const int e = lane + 32 * d;
          dot = fmaf(qf[i][d], e < D ? rows[r][e] : 0.0f, dot);
        }
        attn_fold<LPL>(warp_sum(dot) * scale, vf, m[i], l[i], acc[i]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < HPW; ++i) {
    const int h = h0 + i;
    if (h >= H)
      continue;
    float *part = partials + ((size_t(t) * H + h) * SPLITS + s) * (L + 2);
    if (lane == 0) {
      part[0] = m[i];
      part[1] = l[i];
    }
#pragma unroll
    for (int d = 0; d < LPL; ++d)
      if (lane + 32 * d < L)
        part[2 + lane + 32 * d] = acc[i][d];
  }
}

// latent_attn_split on tensor cores, for a cache of a 16-bit type T (the
// partials it writes are the same). Block (g, t, s) of 2 * RG warps takes
// 16 * RG heads of token t, 16 per pair of warps as the 16 rows of
// m16n8k16 MMAs (FlashMLA's packing: every latent row staged in shared
// memory serves all 16 * RG heads, so the cache is read ceil(H / (16 *
// RG)) times per step, from L2 after the first), over split s of the
// token's positions, KT rows at a time. Both warps of a pair compute
// S = Q K^T for their 16 heads over the D = L + R wide rows (zero-padded
// to whole 16-wide k steps; Q rounded to T), so that each holds its rows'
// scores without an exchange; then warp 2 r + w accumulates output dims
// [w * L / 2, (w + 1) * L / 2) of O += P V, V being the rows' first L
// values, in fp32 (128 floats a lane at V3's 512). The online softmax runs
// on the S fragments as in attn_prefill_mma (a lane holds rows g and g + 8,
// g = lane / 4), and P enters as a high and a low T term for the same
// reason. Rows past H are zeros whose results are dropped. The queries and
// the staged rows live in dynamic shared memory: (16 * RG + KT) * (DP + 8)
// values of T.
template <int H, int L, int R, int RG, int SPLITS, int KT, typename TQ,
          typename T>
__device__ __forceinline__ void
latent_attn_mma(const TQ *ql, llmc_kv cache, const int *slots,
                const int *positions, float *partials, float scale) {
  constexpr int D = L + R, DP = (D + 15) / 16 * 16, PAD = 8;
  constexpr int DK = DP / 16, LW = L / 2, DN = LW / 8, KN = KT / 8;
  constexpr int QR = 16 * RG; // query rows (heads) of the block
  static_assert(L % 32 == 0 && D % 8 == 0 && KT % 16 == 0,
                "whole 16-wide MMA steps and 16-byte rows");
  LLMC_DYNAMIC_SHARED(smem);
  T(*qs)[DP + PAD] = reinterpret_cast<T(*)[DP + PAD]>(smem);
  T(*ks)[DP + PAD] =
      reinterpret_cast<T(*)[DP + PAD]>(smem + QR * (DP + PAD) * sizeof(T));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int rg = warp / 2, half = warp % 2;
  const int h0 = blockIdx.x * QR, t = blockIdx.y, s = blockIdx.z;
  const int p = positions[t];
  const int len = (p + 1 + SPLITS - 1) / SPLITS;
  const int j0 = s * len, j1 = min(p + 1, j0 + len);
  const T *base = static_cast<const T *>(cache.keys);
  const int slot = slots[t];

  for (int i = threadIdx.x; i < QR * DP; i += blockDim.x) {
    const int r = i / DP, e = i % DP, h = h0 + r;
    qs[r][e] = from_f<T>(h < H && e < D
                             ? to_f(ql[(size_t(t) * H + h) * D + e])
                             : 0.0f);
  }
  float m[2] = {-LLMC_INF, -LLMC_INF}, l[2] = {0.0f, 0.0f};
  float o[DN][4];
#pragma unroll
  for (int n = 0; n < DN; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      o[n][e] = 0.0f;

  for (int jt = j0; jt < j1; jt += KT) {
    __syncthreads(); // Q is staged; the previous rows are no longer read
    for (int v = threadIdx.x; v < KT * (DP / 8); v += blockDim.x) {
      const int r = v / (DP / 8), c = (v % (DP / 8)) * 8, j = jt + r;
      uint4 d = make_uint4(0, 0, 0, 0);
      if (j < j1 && c < D)
        d = *reinterpret_cast<const uint4 *>(
            base + llmc_kv_row(cache, slot, j) * D + c);
      *reinterpret_cast<uint4 *>(&ks[r][c]) = d;
    }
    __syncthreads();

    float sc[KN][4];
#pragma unroll
    for (int n = 0; n < KN; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        sc[n][e] = 0.0f;
#pragma unroll 4
    for (int kk = 0; kk < DK; ++kk) {
      unsigned qa[4];
      ldmatrix_x4(qa, &qs[rg * 16 + lane % 16][kk * 16 + (lane / 16) * 8]);
#pragma unroll
      for (int j = 0; j < KN / 2; ++j) { // two n8 row tiles per ldmatrix.x4
        unsigned r[4];
        ldmatrix_x4(r, &ks[j * 16 + (lane & 7) + ((lane >> 4) << 3)]
                          [kk * 16 + ((lane >> 3) & 1) * 8]);
        MmaName<T>::mma(sc[2 * j], qa, r);
        MmaName<T>::mma(sc[2 * j + 1], qa, r + 2);
      }
    }

    // Online softmax over the tile's positions below j1.
    float mx[2] = {m[0], m[1]};
#pragma unroll
    for (int n = 0; n < KN; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int j = jt + n * 8 + (lane % 4) * 2 + e % 2;
        const float v = j < j1 ? sc[n][e] * scale : -LLMC_INF;
        sc[n][e] = v;
        mx[e / 2] = fmaxf(mx[e / 2], v);
      }
    mma_softmax_fold<KN, DN>(sc, mx, m, l, o);
    // O += P V over this warp's half of the L value dims.
    mma_pv<KN, DN>(sc, ks, half * LW, o);
  }

#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int h = h0 + rg * 16 + lane / 4 + 8 * i;
    if (h >= H)
      continue;
    float *part = partials + ((size_t(t) * H + h) * SPLITS + s) * (L + 2);
    if (half == 0 && lane % 4 == 0) {
      part[0] = m[i];
      part[1] = l[i];
    }
#pragma unroll
    for (int n = 0; n < DN; ++n)
#pragma unroll
      for (int c = 0; c < 2; ++c)
        part[2 + half * LW + n * 8 + (lane % 4) * 2 + c] = o[n][2 * i + c];
  }
}

// Block (h, t), 8 warps: out[t, h, v] = W_UV[h][v] . x[t, h], fp32 sums.
template <int H, int L, int N, int V, typename TX, typename TW, typename TO>
__device__ __forceinline__ void mla_absorb_output(const TX *x,
                                                  const TW *kv_b, TO *out) {
  __shared__ float xs[L];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int warps = blockDim.x / 32;
  const int h = blockIdx.x, t = blockIdx.y;
  for (int c = threadIdx.x; c < L; c += blockDim.x)
    xs[c] = to_f(x[(size_t(t) * H + h) * L + c]);
  __syncthreads();
  for (int v = warp; v < V; v += warps) {
    const TW *wr = kv_b + (size_t(h) * (N + V) + N + v) * L;
    float dot = 0.0f;
    for (int c = lane; c < L; c += 32)
      dot = fmaf(xs[c], to_f(wr[c]), dot);
    dot = warp_sum(dot);
    if (lane == 0)
      out[(size_t(t) * H + h) * V + v] = from_f<TO>(dot);
  }
}
