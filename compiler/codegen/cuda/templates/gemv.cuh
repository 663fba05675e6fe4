// gemv.cuh - y[t, n] = x[t, :] . W[n, :] (+ bias[n]) for the few tokens of
// a decode step. One warp per output row n (ROWS warps per block), each lane
// reading VEC consecutive weights (16 bytes) per iteration so that a warp
// streams 512 contiguous bytes of the row; tokens in chunks of TT whose
// partial sums stay in registers, so a row is read once per chunk.
//
// GATED: y = round(act(round(x . Wg[n]))) * round(x . Wu[n]) (a gated MLP's
// gate and up projections, one pass over both rows).

template <int N, int K, int TT, bool VEC, bool BIAS, bool GATED, int ACT,
          typename TX, typename TW, typename TB, typename TY>
__device__ __forceinline__ void gemv_rows(int block, int T, const TX *x,
                                          const TW *w, const TW *w2,
                                          const TB *bias, TY *y) {
  constexpr int V = VEC ? 16 / int(sizeof(TW)) : 1;
  static_assert(!VEC || K % V == 0, "vector path needs whole vectors");
  const int lane = threadIdx.x % 32;
  const int n = block * (blockDim.x / 32) + threadIdx.x / 32;
  if (n >= N)
    return;
  const TW *wr = w + size_t(n) * K;
  const TW *ur = GATED ? w2 + size_t(n) * K : nullptr;
  for (int t0 = 0; t0 < T; t0 += TT) {
    float acc[TT], acc2[TT];
#pragma unroll
    for (int t = 0; t < TT; ++t)
      acc[t] = acc2[t] = 0.0f;
    for (int k = lane * V; k < K; k += 32 * V) {
      float wf[V], uf[V];
      load_n<TW, V>(wr + k, wf);
      if constexpr (GATED)
        load_n<TW, V>(ur + k, uf);
#pragma unroll
      for (int t = 0; t < TT; ++t) {
        if (t0 + t < T) {
          float xf[V];
          load_n<TX, V>(x + size_t(t0 + t) * K + k, xf);
#pragma unroll
          for (int i = 0; i < V; ++i) {
            acc[t] = fmaf(xf[i], wf[i], acc[t]);
            if constexpr (GATED)
              acc2[t] = fmaf(xf[i], uf[i], acc2[t]);
          }
        }
      }
    }
#pragma unroll
    for (int t = 0; t < TT; ++t) {
      float s = warp_sum(acc[t]);
      float u = GATED ? warp_sum(acc2[t]) : 0.0f;
      if (lane == 0 && t0 + t < T) {
        float out;
        if constexpr (GATED)
          out = round_to<TY>(activate<ACT>(round_to<TY>(s))) * round_to<TY>(u);
        else
          out = BIAS ? s + to_f(bias[n]) : s;
        y[size_t(t0 + t) * N + n] = from_f<TY>(out);
      }
    }
  }
}

template <int N, int K, int TT, bool VEC, bool BIAS, bool GATED, int ACT,
          typename TX, typename TW, typename TB, typename TY>
__device__ __forceinline__ void gemv(int T, const TX *x, const TW *w,
                                     const TW *w2, const TB *bias, TY *y) {
  gemv_rows<N, K, TT, VEC, BIAS, GATED, ACT, TX, TW, TB, TY>(
      int(blockIdx.x), T, x, w, w2, bias, y);
}

// Two or three GEMVs of the same x in one launch (a layer's Q, K and V
// projections): the first ceil(N0 / WARPS) blocks compute y0, the next
// ceil(N1 / WARPS) y1, the rest y2 (N2 = 0: none), each exactly as gemv.
template <int N0, int N1, int N2, int K, int TT, int WARPS, bool VEC,
          bool BIAS0, bool BIAS1, bool BIAS2, typename TX, typename TW,
          typename TB, typename TY>
__device__ __forceinline__ void
gemv_multi(int T, const TX *x, const TW *w0, const TB *b0, TY *y0,
           const TW *w1, const TB *b1, TY *y1, const TW *w2, const TB *b2,
           TY *y2) {
  constexpr int B0 = (N0 + WARPS - 1) / WARPS;
  constexpr int B1 = (N1 + WARPS - 1) / WARPS;
  const int b = blockIdx.x;
  if (b < B0)
    gemv_rows<N0, K, TT, VEC, BIAS0, false, 0, TX, TW, TB, TY>(
        b, T, x, w0, (const TW *)nullptr, b0, y0);
  else if (b < B0 + B1)
    gemv_rows<N1, K, TT, VEC, BIAS1, false, 0, TX, TW, TB, TY>(
        b - B0, T, x, w1, (const TW *)nullptr, b1, y1);
  else if constexpr (N2 > 0)
    gemv_rows<N2, K, TT, VEC, BIAS2, false, 0, TX, TW, TB, TY>(
        b - B0 - B1, T, x, w2, (const TW *)nullptr, b2, y2);
}
