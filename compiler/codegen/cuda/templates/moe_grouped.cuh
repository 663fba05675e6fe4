// moe_grouped.cuh - Mixture-of-Experts prefill: the (token, choice) pairs
// sorted by expert on the device, then one grouped GEMM per projection over
// the variable-sized expert segments on tensor cores (after gemm_mma.cuh,
// whose tile sizes, loaders and k step it uses), then the weighted
// sum in choice order. Computes exactly what moe.cuh's per-pair kernels do
// (plan.fbs MoEExperts), with each expert's weights read once per 64 of its
// pairs instead of once per pair.

// Counting sort of the pairs p = t * K + j by ids[p], one block: seg[e] is
// where expert e's pairs start in perm (seg[E] = T * K), tiles[e] the first
// 64-row tile of expert e (tiles[E] tiles in all), perm the pair indices,
// ascending within each expert. Deterministic: no atomics.
template <int E, int K>
__device__ __forceinline__ void moe_sort(int T, const int *ids, int *seg,
                                         int *tiles, int *perm) {
  __shared__ int count[E];
  const int P = T * K;
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    int c = 0;
    for (int p = 0; p < P; ++p)
      c += ids[p] == e;
    count[e] = c;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int s = 0, t = 0;
    for (int e = 0; e < E; ++e) {
      seg[e] = s;
      tiles[e] = t;
      s += count[e];
      t += (count[e] + LLMC_MMA_BM - 1) / LLMC_MMA_BM;
    }
    seg[E] = s;
    tiles[E] = t;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    int at = seg[e];
    for (int p = 0; p < P; ++p)
      if (ids[p] == e)
        perm[at++] = p;
  }
}

// Rows rows[r] / DIV (r < 64; -1: zeros) x columns [k0, k0 + 32) of the
// row-major src (rows of KD) into tile.
template <int KD, int DIV, typename T>
__device__ __forceinline__ void moe_load_rows(
    T (*tile)[LLMC_MMA_BK + LLMC_MMA_PAD], const T *src, const int *rows,
    int k0) {
  constexpr int PER_ROW = LLMC_MMA_BK * int(sizeof(T)) / 16;
#pragma unroll
  for (int v = threadIdx.x; v < LLMC_MMA_BM * PER_ROW; v += 128) {
    const int r = v / PER_ROW, c = (v % PER_ROW) * (16 / int(sizeof(T)));
    uint4 data = make_uint4(0, 0, 0, 0);
    if (rows[r] >= 0)
      data = *reinterpret_cast<const uint4 *>(src + size_t(rows[r] / DIV) * KD +
                                              k0 + c);
    *reinterpret_cast<uint4 *>(&tile[r][c]) = data;
  }
}

// The grouped GEMM: block (nt, b) computes columns [64 nt, 64 nt + 64) of
// the tiles b, b + gridDim.y, ... of all experts. A tile is 64 pairs of one
// expert e: rows x[perm[i] / DIV] (i in the expert's segment) times
// w_e = w + e * W_STRIDE ([N, KD], GATED: the up rows follow at + N * KD);
// row perm[i] of y ([T * K, N]) gets round(act(round(g))) * round(u)
// (GATED) or round(acc). BIAS (gpt-oss): bias_e = bias + e * NB * N joins
// the rounded products, rounded again, as in moe_gate_up / moe_down; OAI
// (GATED only): oai_swiglu(g, u) instead of act(g) * u.
//
// Quantized experts (FMT >= 0, a QFMT_* without zero points): w holds each
// expert's [NB * N, KD] codes, scales [E, ceil(NB * N / BR), ceil(KD / BC)]
// (TS) one per BR x BC block; the tiles hold the codes' exact values, each
// block of BC columns accumulates apart and joins the sum times its scale
// (gemm_mma_q's scheme). BC % 32 == 0.
template <int E, int N, int KD, int DIV, bool GATED, int ACT, typename T,
          bool BIAS = false, bool OAI = false, typename TB = float,
          int FMT = -1, int BR = 1, int BC = 1, typename TS = float,
          typename TW = T>
__device__ __forceinline__ void
moe_grouped_mma(const T *x, const int *seg, const int *tiles, const int *perm,
                const TW *w, T *y, const TB *bias = nullptr, float limit = 0.0f,
                float alpha = 0.0f, const TS *scales = nullptr) {
  static_assert(GATED || !OAI, "the clamped SwiGLU needs gate and up");
  static_assert(KD % LLMC_MMA_BK == 0, "KD must be a multiple of 32");
  static_assert(FMT < 0 || BC % LLMC_MMA_BK == 0,
                "scale blocks must be whole k steps");
  constexpr int NB = GATED ? 2 : 1;
  constexpr bool Q = FMT >= 0;
  constexpr int PER_BYTE = FMT == QFMT_I4 || FMT == QFMT_E2M1 ? 2 : 1;
  // Elements of TW per expert (codes: bytes).
  constexpr size_t W_STRIDE = size_t(NB) * N * KD / (Q ? PER_BYTE : 1);
  constexpr int SR = (NB * N + BR - 1) / BR, SC = (KD + BC - 1) / BC;
  __shared__ __align__(16) T xs[2][LLMC_MMA_BM][LLMC_MMA_BK + LLMC_MMA_PAD];
  __shared__ __align__(16) T
      ws[2][NB][LLMC_MMA_BN][LLMC_MMA_BK + LLMC_MMA_PAD];
  __shared__ int rows[LLMC_MMA_BM];

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int wm = (warp / 2) * 32, wn = (warp % 2) * 32;
  const int n0 = blockIdx.x * LLMC_MMA_BN;
  const int total = tiles[E];

  for (int tile = blockIdx.y; tile < total; tile += gridDim.y) {
    // The expert of this tile: the last e with tiles[e] <= tile (experts
    // without pairs have tiles[e] == tiles[e + 1]).
    int lo = 0, hi = E - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (tiles[mid] <= tile)
        lo = mid;
      else
        hi = mid - 1;
    }
    const int e = lo;
    const int r0 = seg[e] + (tile - tiles[e]) * LLMC_MMA_BM, r1 = seg[e + 1];
    if (threadIdx.x < LLMC_MMA_BM)
      rows[threadIdx.x] =
          r0 + int(threadIdx.x) < r1 ? perm[r0 + threadIdx.x] : -1;
    __syncthreads();
    const TW *we = w + size_t(e) * W_STRIDE;
    // Rows [n0, n0 + 64) of weight matrix b (gate or down 0, up 1).
    auto loadW = [&](T (*tile)[LLMC_MMA_BK + LLMC_MMA_PAD], int b, int k0) {
      if constexpr (Q)
        mma_load_qtile<(Q ? FMT : 0), KD, BC, false>(
            tile, reinterpret_cast<const unsigned char *>(we) +
                      size_t(b) * N * (KD / PER_BYTE),
            nullptr, n0, N, k0);
      else
        mma_load_tile<KD>(tile, reinterpret_cast<const T *>(we) +
                                    size_t(b) * N * KD,
                          n0, N, k0);
    };

    float acc[NB][2][4][4], part[NB][2][4][4];
    mma_zero<NB>(acc);
    mma_zero<NB>(part);

    moe_load_rows<KD, DIV>(xs[0], x, rows, 0);
    loadW(ws[0][0], 0, 0);
    if constexpr (GATED)
      loadW(ws[0][NB - 1], 1, 0);
    __syncthreads();

    for (int k0 = 0; k0 < KD; k0 += LLMC_MMA_BK) {
      const int cur = (k0 / LLMC_MMA_BK) % 2;
      if (k0 + LLMC_MMA_BK < KD) {
        moe_load_rows<KD, DIV>(xs[cur ^ 1], x, rows, k0 + LLMC_MMA_BK);
        loadW(ws[cur ^ 1][0], 0, k0 + LLMC_MMA_BK);
        if constexpr (GATED)
          loadW(ws[cur ^ 1][NB - 1], 1, k0 + LLMC_MMA_BK);
      }
      if constexpr (Q) {
        mma_k_step<NB>(xs[cur], ws[cur], part, wm, wn);
        if ((k0 + LLMC_MMA_BK) % BC == 0 || k0 + LLMC_MMA_BK == KD) {
          const int kb = k0 / BC;
          mma_fold_scaled<NB, N>(acc, part, n0, wn, [&](int b, int n) {
            return q_scale<(Q ? FMT : 0)>(
                scales[(size_t(e) * SR + (b * N + n) / BR) * SC + kb]);
          });
        }
      } else {
        mma_k_step<NB>(xs[cur], ws[cur], acc, wm, wn);
      }
      __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int r = wm + i * 16 + lane / 4 + (q / 2) * 8;
          const int n = n0 + wn + j * 8 + (lane % 4) * 2 + q % 2;
          if (rows[r] >= 0 && n < N) {
            float g = round_to<T>(acc[0][i][j][q]), out;
            if constexpr (BIAS)
              g = round_to<T>(g + to_f(bias[size_t(e) * NB * N + n]));
            if constexpr (GATED) {
              float u = round_to<T>(acc[NB - 1][i][j][q]);
              if constexpr (BIAS)
                u = round_to<T>(u + to_f(bias[size_t(e) * NB * N + N + n]));
              out = OAI ? oai_swiglu<T>(g, u, limit, alpha)
                        : round_to<T>(activate<ACT>(g)) * u;
            } else {
              out = g;
            }
            y[size_t(rows[r]) * N + n] = from_f<T>(out);
          }
        }
    __syncthreads(); // rows and the tiles are reused by the next tile
  }
}

template <int E, int H, int I, int K, int ACT, typename T, bool BIAS = false,
          bool OAI = false, typename TB = float>
__device__ __forceinline__ void
moe_gate_up_grouped(int, const T *x, const int *seg, const int *tiles,
                    const int *perm, const T *gate_up, T *m,
                    const TB *bias = nullptr, float limit = 0.0f,
                    float alpha = 0.0f) {
  moe_grouped_mma<E, I, H, K, true, ACT, T, BIAS, OAI, TB>(
      x, seg, tiles, perm, gate_up, m, bias, limit, alpha);
}

template <int E, int H, int I, int K, typename T, bool BIAS = false,
          typename TB = float>
__device__ __forceinline__ void
moe_down_grouped(int, const T *m, const int *seg, const int *tiles,
                 const int *perm, const T *down, T *yp,
                 const TB *bias = nullptr) {
  moe_grouped_mma<E, H, I, 1, false, 0, T, BIAS, false, TB>(
      m, seg, tiles, perm, down, yp, bias);
}

// The grouped GEMMs over quantized experts (codes and scales; no zero
// points): the same tiles, rows and epilogues.
template <int E, int H, int I, int K, int ACT, int FMT, int BR, int BC,
          typename T, typename TS, bool BIAS = false, bool OAI = false,
          typename TB = float>
__device__ __forceinline__ void
moe_gate_up_grouped_q(int, const T *x, const int *seg, const int *tiles,
                      const int *perm, const unsigned char *gate_up,
                      const TS *scales, T *m, const TB *bias = nullptr,
                      float limit = 0.0f, float alpha = 0.0f) {
  moe_grouped_mma<E, I, H, K, true, ACT, T, BIAS, OAI, TB, FMT, BR, BC, TS>(
      x, seg, tiles, perm, gate_up, m, bias, limit, alpha, scales);
}

template <int E, int H, int I, int K, int FMT, int BR, int BC, typename T,
          typename TS, bool BIAS = false, typename TB = float>
__device__ __forceinline__ void
moe_down_grouped_q(int, const T *m, const int *seg, const int *tiles,
                   const int *perm, const unsigned char *down,
                   const TS *scales, T *yp, const TB *bias = nullptr) {
  moe_grouped_mma<E, H, I, 1, false, 0, T, BIAS, false, TB, FMT, BR, BC, TS>(
      m, seg, tiles, perm, down, yp, bias, 0.0f, 0.0f, scales);
}

// y[t, n] = round(sum_j round_w(w[t, j] * yp[t * K + j, n])), in choice
// order: block (c, t) covers columns [c * blockDim.x, ...) of token t.
template <int H, int K, typename TR, typename TY>
__device__ __forceinline__ void moe_combine(int T, const TY *yp,
                                            const TR *weights, TY *y) {
  const int t = blockIdx.y;
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= T || n >= H)
    return;
  float acc = 0.0f;
#pragma unroll
  for (int j = 0; j < K; ++j)
    acc += round_to<TR>(to_f(weights[t * K + j]) *
                        to_f(yp[(size_t(t) * K + j) * H + n]));
  y[size_t(t) * H + n] = from_f<TY>(acc);
}
