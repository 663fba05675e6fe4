// gemm_mma.cuh - Y[M, N] = X[M, K] W[N, K]^T on tensor cores: mma.sync
// m16n8k16 (bf16 or f16 in, fp32 accumulate) fed by ldmatrix from shared
// memory. A 128-thread block computes a 64 x 64 tile of Y (tokens x
// features); its four warps each own 32 x 32 (2 x 4 mma tiles). K moves in
// steps of 32 through double-buffered shared tiles whose rows are padded by
// 8 elements so that ldmatrix's eight 16-byte row reads hit distinct banks.
// Rows beyond M or N load as zeros and are not stored. K % 32 == 0.
//
// GATED: a second weight W2 (the up projection) and Y = round(act(round(
// X Wg^T))) * round(X Wu^T); BIAS adds bias[n] before the store.

#define LLMC_MMA_BM 64
#define LLMC_MMA_BN 64
#define LLMC_MMA_BK 32
#define LLMC_MMA_PAD 8

// Under LLMC_EMULATION (test/emulation/cuda_emu.h) the inline PTX is
// replaced by a CPU model of the same instruction.
template <typename T> struct MmaName;
#ifdef LLMC_EMULATION
template <typename T> struct MmaName {
  static void mma(float *c, const unsigned *a, const unsigned *b) {
    llmc_emu_mma<T>(c, a, b);
  }
};
#else
template <> struct MmaName<bf16> {
  static __device__ __forceinline__ void mma(float *c, const unsigned *a,
                                             const unsigned *b) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                   "r"(b[1]));
  }
};
template <> struct MmaName<f16> {
  static __device__ __forceinline__ void mma(float *c, const unsigned *a,
                                             const unsigned *b) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                   "r"(b[1]));
  }
};

#endif

__device__ __forceinline__ void ldmatrix_x4(unsigned *r, const void *p) {
#ifdef LLMC_EMULATION
  llmc_emu_ldmatrix_x4(r, p);
#else
  const unsigned addr = unsigned(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
#endif
}

// Copies rows [row0, row0 + 64) x columns [k0, k0 + 32) of the row-major
// matrix src (`rows` rows of K) into tile, zeros past the last row.
template <int K, typename T>
__device__ __forceinline__ void mma_load_tile(
    T (*tile)[LLMC_MMA_BK + LLMC_MMA_PAD], const T *src, int row0, int rows,
    int k0) {
  constexpr int PER_ROW = LLMC_MMA_BK * int(sizeof(T)) / 16; // 16-byte vectors
#pragma unroll
  for (int v = threadIdx.x; v < LLMC_MMA_BM * PER_ROW; v += 128) {
    const int r = v / PER_ROW, c = (v % PER_ROW) * (16 / int(sizeof(T)));
    uint4 data = make_uint4(0, 0, 0, 0);
    if (row0 + r < rows)
      data = *reinterpret_cast<const uint4 *>(src + size_t(row0 + r) * K +
                                              k0 + c);
    *reinterpret_cast<uint4 *>(&tile[r][c]) = data;
  }
}

// The accumulators of a warp's 32 x 32 tile (per weight matrix), zeroed.
template <int NB>
__device__ __forceinline__ void mma_zero(float (&acc)[NB][2][4][4]) {
#pragma unroll
  for (int b = 0; b < NB; ++b)
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          acc[b][i][j][e] = 0.0f;
}

// One 32-wide k step of a warp's 32 x 32 tile at (wm, wn): the x tile xs
// (64 x 32) against each of the NB weight tiles ws[b] (64 x 32), two
// m16n8k16 rows by four n8 columns, accumulated into acc[b].
template <int NB, typename T>
__device__ __forceinline__ void
mma_k_step(const T (*xs)[LLMC_MMA_BK + LLMC_MMA_PAD],
           const T (*ws)[LLMC_MMA_BN][LLMC_MMA_BK + LLMC_MMA_PAD],
           float (&acc)[NB][2][4][4], int wm, int wn) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int kk = 0; kk < LLMC_MMA_BK; kk += 16) {
    unsigned a[2][4];
#pragma unroll
    for (int i = 0; i < 2; ++i)
      ldmatrix_x4(a[i], &xs[wm + i * 16 + lane % 16][kk + (lane / 16) * 8]);
#pragma unroll
    for (int b = 0; b < NB; ++b) {
#pragma unroll
      for (int j = 0; j < 2; ++j) { // two n8 tiles per ldmatrix.x4
        unsigned r[4];
        ldmatrix_x4(r, &ws[b][wn + j * 16 + (lane & 7) + ((lane >> 4) << 3)]
                          [kk + ((lane >> 3) & 1) * 8]);
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          MmaName<T>::mma(acc[b][i][2 * j], a[i], r);
          MmaName<T>::mma(acc[b][i][2 * j + 1], a[i], r + 2);
        }
      }
    }
  }
}

template <int N, int K, bool BIAS, bool GATED, int ACT, typename T,
          typename TB, typename TY>
__device__ __forceinline__ void gemm_mma(int M, const T *x, const T *w,
                                         const T *w2, const TB *bias, TY *y) {
  static_assert(K % LLMC_MMA_BK == 0, "K must be a multiple of 32");
  constexpr int NB = GATED ? 2 : 1;
  __shared__ __align__(16) T xs[2][LLMC_MMA_BM][LLMC_MMA_BK + LLMC_MMA_PAD];
  __shared__ __align__(16) T
      ws[2][NB][LLMC_MMA_BN][LLMC_MMA_BK + LLMC_MMA_PAD];

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int wm = (warp / 2) * 32, wn = (warp % 2) * 32;
  const int m0 = blockIdx.y * LLMC_MMA_BM, n0 = blockIdx.x * LLMC_MMA_BN;

  float acc[NB][2][4][4];
  mma_zero<NB>(acc);

  mma_load_tile<K>(xs[0], x, m0, M, 0);
  mma_load_tile<K>(ws[0][0], w, n0, N, 0);
  if constexpr (GATED)
    mma_load_tile<K>(ws[0][NB - 1], w2, n0, N, 0);
  __syncthreads();

  for (int k0 = 0; k0 < K; k0 += LLMC_MMA_BK) {
    const int cur = (k0 / LLMC_MMA_BK) % 2;
    if (k0 + LLMC_MMA_BK < K) { // prefetch the next step into the other half
      mma_load_tile<K>(xs[cur ^ 1], x, m0, M, k0 + LLMC_MMA_BK);
      mma_load_tile<K>(ws[cur ^ 1][0], w, n0, N, k0 + LLMC_MMA_BK);
      if constexpr (GATED)
        mma_load_tile<K>(ws[cur ^ 1][NB - 1], w2, n0, N, k0 + LLMC_MMA_BK);
    }
    mma_k_step<NB>(xs[cur], ws[cur], acc, wm, wn);
    __syncthreads();
  }

  // c0, c1: row lane / 4, columns 2 (lane % 4) + {0, 1}; c2, c3: row + 8.
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = m0 + wm + i * 16 + lane / 4 + (e / 2) * 8;
        const int n = n0 + wn + j * 8 + (lane % 4) * 2 + e % 2;
        if (m < M && n < N) {
          float out;
          if constexpr (GATED)
            out = round_to<TY>(activate<ACT>(round_to<TY>(acc[0][i][j][e]))) *
                  round_to<TY>(acc[NB - 1][i][j][e]);
          else
            out = BIAS ? acc[0][i][j][e] + to_f(bias[n]) : acc[0][i][j][e];
          y[size_t(m) * N + n] = from_f<TY>(out);
        }
      }
}

// A quantized weight's tile for the tensor cores: rows [row0, row0 + 64) x
// columns [k0, k0 + 32) of W (codes of FMT, rows of K) as T, each element
// its code's value minus its group's zero point (ZP: zeros [N, ceil(K /
// BK)], signed bytes). These are small integers or FP8 / FP4 values, exact
// in bf16 and f16; the scales multiply the accumulators (gemm_mma_q).
// Thread t converts 16 codes of row t / 2. Rows past `rows` are zeros.
template <int FMT, int K, int BK, bool ZP, typename T>
__device__ __forceinline__ void
mma_load_qtile(T (*tile)[LLMC_MMA_BK + LLMC_MMA_PAD], const unsigned char *w,
               const signed char *zeros, int row0, int rows, int k0) {
  constexpr int PER_BYTE = FMT == QFMT_I4 || FMT == QFMT_E2M1 ? 2 : 1;
  constexpr int SC = (K + BK - 1) / BK;
  const int r = threadIdx.x / 2, c0 = (threadIdx.x % 2) * 16;
  float v[16];
  if (row0 + r < rows) {
    const unsigned char *src =
        w + size_t(row0 + r) * (K / PER_BYTE) + (k0 + c0) / PER_BYTE;
    alignas(16) unsigned char b[16 / PER_BYTE];
    if constexpr (PER_BYTE == 2)
      *reinterpret_cast<uint2 *>(b) = *reinterpret_cast<const uint2 *>(src);
    else
      *reinterpret_cast<uint4 *>(b) = *reinterpret_cast<const uint4 *>(src);
    const float z = ZP ? float(zeros[size_t(row0 + r) * SC + k0 / BK]) : 0.0f;
#pragma unroll
    for (int i = 0; i < 16; ++i)
      v[i] = q_code<FMT>(b, i) - z;
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i)
      v[i] = 0.0f;
  }
  // Pairs of 16-bit values as words (their bits, not a store through a
  // T pointer into a uint4, which the compiler may reorder).
  unsigned words[8];
#pragma unroll
  for (int j = 0; j < 8; ++j)
    words[j] = unsigned(to_bits(from_f<T>(v[2 * j]))) |
               unsigned(to_bits(from_f<T>(v[2 * j + 1]))) << 16;
#pragma unroll
  for (int h = 0; h < 2; ++h)
    *reinterpret_cast<uint4 *>(&tile[r][c0 + h * 8]) =
        make_uint4(words[4 * h], words[4 * h + 1], words[4 * h + 2],
                   words[4 * h + 3]);
}

// The end of a block of scale columns in a dequantizing GEMM: acc[b] +=
// part[b] * scale(b, n) for each accumulator's column n (of the warp's
// tile at wn of the block's columns at n0), then part = 0. `scale(b, n)`
// is the scale of weight matrix b's row n (called for n < N only).
template <int NB, int N, typename Scale>
__device__ __forceinline__ void mma_fold_scaled(float (&acc)[NB][2][4][4],
                                                float (&part)[NB][2][4][4],
                                                int n0, int wn, Scale scale) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int b = 0; b < NB; ++b)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int n = n0 + wn + j * 8 + (lane % 4) * 2 + c;
        const float s = n < N ? scale(b, n) : 0.0f;
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            acc[b][i][j][2 * h + c] =
                fmaf(part[b][i][j][2 * h + c], s, acc[b][i][j][2 * h + c]);
            part[b][i][j][2 * h + c] = 0.0f;
          }
      }
}

// Stores a warp's 32 x 32 accumulators (at rows m0, columns n0 of y
// [M, N]), plus bias[n] when BIAS: c0, c1 at row lane / 4, columns
// 2 (lane % 4) + {0, 1}; c2, c3 at row + 8; rows and columns past the ends
// are not stored.
template <int N, bool BIAS, typename TB, typename TY>
__device__ __forceinline__ void mma_store(const float (&acc)[2][4][4], int M,
                                          int m0, int n0, const TB *bias,
                                          TY *y) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = m0 + i * 16 + lane / 4 + (e / 2) * 8;
        const int n = n0 + j * 8 + (lane % 4) * 2 + e % 2;
        if (m < M && n < N)
          y[size_t(m) * N + n] =
              from_f<TY>(BIAS ? acc[i][j][e] + to_f(bias[n]) : acc[i][j][e]);
      }
}

// y = x W^T (+ bias) over a quantized W [N, K] (FMT codes, one TS scale
// per BN x BK block: scales [ceil(N / BN), ceil(K / BK)]; ZP: zero points
// per group, BN 1) on tensor cores: the tiles hold code - zero exactly, each
// k step's products accumulate apart, and at the end of each block of BK
// columns they join the sum times the block's scale, in fp32:
// y[m, n] = sum_b scale(n, b) * sum_{k in b} x[m, k] (code - zero), what
// the CPU reference's sum of x * ((code - zero) * scale) is up to fp32
// rounding. BK % 32 == 0 (or BK >= K, one block per row).
template <int FMT, int N, int K, int BN, int BK, bool ZP, bool BIAS,
          typename T, typename TS, typename TB, typename TY>
__device__ __forceinline__ void
gemm_mma_q(int M, const T *x, const unsigned char *w, const TS *scales,
           const signed char *zeros, const TB *bias, TY *y) {
  static_assert(K % LLMC_MMA_BK == 0, "K must be a multiple of 32");
  static_assert(BK % LLMC_MMA_BK == 0 || BK >= K,
                "scale blocks must be whole k steps");
  constexpr int SC = (K + BK - 1) / BK;
  __shared__ __align__(16) T xs[2][LLMC_MMA_BM][LLMC_MMA_BK + LLMC_MMA_PAD];
  __shared__ __align__(16) T ws[2][1][LLMC_MMA_BN][LLMC_MMA_BK + LLMC_MMA_PAD];

  const int warp = threadIdx.x / 32;
  const int wm = (warp / 2) * 32, wn = (warp % 2) * 32;
  const int m0 = blockIdx.y * LLMC_MMA_BM, n0 = blockIdx.x * LLMC_MMA_BN;

  float acc[1][2][4][4], part[1][2][4][4];
  mma_zero<1>(acc);
  mma_zero<1>(part);

  mma_load_tile<K>(xs[0], x, m0, M, 0);
  mma_load_qtile<FMT, K, BK, ZP>(ws[0][0], w, zeros, n0, N, 0);
  __syncthreads();

  for (int k0 = 0; k0 < K; k0 += LLMC_MMA_BK) {
    const int cur = (k0 / LLMC_MMA_BK) % 2;
    if (k0 + LLMC_MMA_BK < K) {
      mma_load_tile<K>(xs[cur ^ 1], x, m0, M, k0 + LLMC_MMA_BK);
      mma_load_qtile<FMT, K, BK, ZP>(ws[cur ^ 1][0], w, zeros, n0, N,
                                     k0 + LLMC_MMA_BK);
    }
    mma_k_step<1>(xs[cur], ws[cur], part, wm, wn);
    if ((k0 + LLMC_MMA_BK) % BK == 0 || k0 + LLMC_MMA_BK == K) {
      const int kb = k0 / BK;
      mma_fold_scaled<1, N>(acc, part, n0, wn, [&](int, int n) {
        return q_scale<FMT>(scales[size_t(n / BN) * SC + kb]);
      });
    }
    __syncthreads();
  }

  mma_store<N, BIAS>(acc[0], M, m0 + wm, n0 + wn, bias, y);
}

// FP8 activations (llm.linear fp8_activations): each token's x quantized
// per group of 128 features, s = max|x| / 448 (1 when all are 0), codes
// e4m3(x / s), as the CPU reference (cpu/Numerics.h fakeQuantizeE4M3).
// One warp per (token, group), four groups per block, tokens on the y
// axis. FAKE: writes x' = code * s as fp32 [T, K] (the GEMV path reads
// it as its x); else the codes [T, K] (bytes, in words) and the scales
// [T, K / 128].
template <int K, bool FAKE, typename TX>
__device__ __forceinline__ void act_quant_e4m3(const TX *x, float *fake,
                                               int *codes, float *scales) {
  constexpr int G = 128, GROUPS = K / G;
  static_assert(K % G == 0, "whole groups of 128 features");
  const int lane = threadIdx.x % 32, t = blockIdx.y;
  const int g = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (g >= GROUPS)
    return; // a whole warp
  const size_t at = size_t(t) * K + size_t(g) * G + lane * 4;
  float v[4];
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[i] = to_f(x[at + i]);
    amax = fmaxf(amax, fabsf(v[i]));
  }
  const float s = e4m3_scale(warp_max(amax));
  unsigned word = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const unsigned c = e4m3_from_f(v[i] / s);
    if (FAKE)
      fake[at + i] = e4m3_to_f(c) * s;
    else
      word |= c << (8 * i);
  }
  if (!FAKE) {
    codes[at / 4] = int(word);
    if (lane == 0)
      scales[size_t(t) * GROUPS + g] = s;
  }
}

// Byte tiles: rows [row0, row0 + 64) x bytes [k0, k0 + 32) of a row-major
// matrix of E4M3 codes (rows of K bytes) into tile, zeros past the last
// row. Rows of 32 + 16 bytes keep ldmatrix's row reads on distinct banks.
template <int K>
__device__ __forceinline__ void mma_load_btile(unsigned char (*tile)[48],
                                               const unsigned char *src,
                                               int row0, int rows, int k0) {
  const int r = threadIdx.x / 2, c = (threadIdx.x % 2) * 16;
  uint4 data = make_uint4(0, 0, 0, 0);
  if (row0 + r < rows)
    data = *reinterpret_cast<const uint4 *>(src + size_t(row0 + r) * K + k0 +
                                            c);
  *reinterpret_cast<uint4 *>(&tile[r][c]) = data;
}

// mma.sync m16n8k32 over E4M3 codes (sm_89 and newer): the fragments are
// the b16 ones with each 16-bit element a pair of bytes, so ldmatrix loads
// them as for gemm_mma.
__device__ __forceinline__ void mma_e4m3(float *c, const unsigned *a,
                                         const unsigned *b) {
#ifdef LLMC_EMULATION
  llmc_emu_mma_e4m3(c, a, b);
#else
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]));
#endif
}

// y = x W^T (+ bias) with both in FP8 (act_quant_e4m3's codes and scales
// of x [M, K]; W [N, K] E4M3 codes with f32 scales per BN x 128 block:
// scales [ceil(N / BN), K / 128]) on FP8 tensor cores: each k step of 32
// is one m16n8k32 per 16 x 8 tile, the products of each block of 128
// columns accumulate apart and join the sum times xs(m, b) * ws(n, b):
// y[m, n] = sum_b xs(m, b) ws(n, b) sum_{k in b} xcode wcode, what the CPU
// reference's sum of (xcode xs) (wcode ws) is up to fp32 rounding. A
// 128-thread block computes 64 x 64 of y, as gemm_mma.
template <int N, int K, int BN, bool BIAS, typename TB, typename TY>
__device__ __forceinline__ void
gemm_mma_fp8(int M, const int *xcodes, const float *xscales,
             const unsigned char *w, const float *wscales, const TB *bias,
             TY *y) {
  constexpr int G = 128, SC = K / G;
  static_assert(K % G == 0, "whole blocks of 128 columns");
  __shared__ __align__(16) unsigned char xs[2][LLMC_MMA_BM][48];
  __shared__ __align__(16) unsigned char ws[2][LLMC_MMA_BN][48];
  const unsigned char *x = reinterpret_cast<const unsigned char *>(xcodes);

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int wm = (warp / 2) * 32, wn = (warp % 2) * 32;
  const int m0 = blockIdx.y * LLMC_MMA_BM, n0 = blockIdx.x * LLMC_MMA_BN;

  float acc[1][2][4][4], part[1][2][4][4];
  mma_zero<1>(acc);
  mma_zero<1>(part);

  mma_load_btile<K>(xs[0], x, m0, M, 0);
  mma_load_btile<K>(ws[0], w, n0, N, 0);
  __syncthreads();

  for (int k0 = 0; k0 < K; k0 += 32) {
    const int cur = (k0 / 32) % 2;
    if (k0 + 32 < K) {
      mma_load_btile<K>(xs[cur ^ 1], x, m0, M, k0 + 32);
      mma_load_btile<K>(ws[cur ^ 1], w, n0, N, k0 + 32);
    }
    unsigned a[2][4];
#pragma unroll
    for (int i = 0; i < 2; ++i)
      ldmatrix_x4(a[i], &xs[cur][wm + i * 16 + lane % 16][(lane / 16) * 16]);
#pragma unroll
    for (int j = 0; j < 2; ++j) { // two n8 tiles per ldmatrix.x4
      unsigned r[4];
      ldmatrix_x4(r, &ws[cur][wn + j * 16 + (lane & 7) + ((lane >> 4) << 3)]
                        [((lane >> 3) & 1) * 16]);
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        mma_e4m3(part[0][i][2 * j], a[i], r);
        mma_e4m3(part[0][i][2 * j + 1], a[i], r + 2);
      }
    }
    if ((k0 + 32) % G == 0) { // the end of a block: scale and fold
      const int kb = k0 / G;
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int m = m0 + wm + i * 16 + lane / 4 + h * 8;
          const float sx = m < M ? xscales[size_t(m) * SC + kb] : 0.0f;
#pragma unroll
          for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int c = 0; c < 2; ++c) {
              const int n = n0 + wn + j * 8 + (lane % 4) * 2 + c;
              const float sw = n < N ? wscales[size_t(n / BN) * SC + kb] : 0.0f;
              float &p = part[0][i][j][2 * h + c];
              acc[0][i][j][2 * h + c] =
                  fmaf(p, sx * sw, acc[0][i][j][2 * h + c]);
              p = 0.0f;
            }
        }
    }
    __syncthreads();
  }

  mma_store<N, BIAS>(acc[0], M, m0 + wm, n0 + wn, bias, y);
}
