// gemm_simt.cuh - Y[M, N] = X[M, K] W[N, K]^T on the CUDA cores, for fp32
// (whose results must match the CPU reference to 1e-4, which tf32 tensor
// cores would not) and shapes the tensor-core kernel does not take. A
// 256-thread block computes a 64 x 64 tile, each thread 4 x 4 outputs
// strided by 16 so that loads and stores coalesce; K moves in steps of 16
// through shared memory, widened to fp32. Any M, N, K.
//
// GATED and BIAS as in gemm_mma.cuh.

template <int N, int K, bool BIAS, bool GATED, int ACT, typename TX,
          typename TW, typename TB, typename TY>
__device__ __forceinline__ void gemm_simt(int M, const TX *x, const TW *w,
                                          const TW *w2, const TB *bias,
                                          TY *y) {
  constexpr int BM = 64, BN = 64, BK = 16;
  constexpr int NB = GATED ? 2 : 1;
  __shared__ float xs[BK][BM + 1];
  __shared__ float ws[NB][BK][BN + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  float acc[NB][4][4];
#pragma unroll
  for (int b = 0; b < NB; ++b)
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        acc[b][i][j] = 0.0f;

  for (int k0 = 0; k0 < K; k0 += BK) {
#pragma unroll
    for (int l = 0; l < 4; ++l) { // 64 rows x 16 columns, k fastest
      const int idx = threadIdx.x + 256 * l;
      const int r = idx / BK, c = idx % BK, k = k0 + c;
      xs[c][r] = (m0 + r < M && k < K) ? to_f(x[size_t(m0 + r) * K + k]) : 0.0f;
      ws[0][c][r] = (n0 + r < N && k < K) ? to_f(w[size_t(n0 + r) * K + k]) : 0.0f;
      if constexpr (GATED)
        ws[NB - 1][c][r] =
            (n0 + r < N && k < K) ? to_f(w2[size_t(n0 + r) * K + k]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int c = 0; c < BK; ++c) {
      float a[4];
#pragma unroll
      for (int i = 0; i < 4; ++i)
        a[i] = xs[c][ty + 16 * i];
#pragma unroll
      for (int b = 0; b < NB; ++b)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const float wv = ws[b][c][tx + 16 * j];
#pragma unroll
          for (int i = 0; i < 4; ++i)
            acc[b][i][j] = fmaf(a[i], wv, acc[b][i][j]);
        }
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
      if (m < M && n < N) {
        float out;
        if constexpr (GATED)
          out = round_to<TY>(activate<ACT>(round_to<TY>(acc[0][i][j]))) *
                round_to<TY>(acc[NB - 1][i][j]);
        else
          out = BIAS ? acc[0][i][j] + to_f(bias[n]) : acc[0][i][j];
        y[size_t(m) * N + n] = from_f<TY>(out);
      }
    }
}
