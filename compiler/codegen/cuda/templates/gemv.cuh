// gemv.cuh - y[t, n] = x[t, :] . W[n, :] (+ bias[n]) for the few tokens of
// a decode step. One warp per output row n (ROWS warps per block), each lane
// reading VEC consecutive weights (16 bytes) per iteration so that a warp
// streams 512 contiguous bytes of the row, four iterations in flight;
// tokens in chunks of TT whose partial sums stay in registers, so a row is
// read once per chunk.
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
    // Unrolled by 4: four 16-byte weight loads of each row in flight per
    // lane before their FMAs (one when the loop ran as written, which left
    // a decode GEMV latency-bound on a single load per lane).
#pragma unroll 4
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

// The row loop of the GEMVs over quantized weights: warp row `n`'s lanes
// read V consecutive codes per pass (PER_BYTE codes per byte; 16 bytes when
// V fills them, else one byte), `dequant(codes, k, wf)` turns the codes of
// elements k .. k + V - 1 into V floats in registers, and the tokens' sums
// (chunks of TT, in fp32) are stored as gemv stores them (+ bias[n]).
template <int N, int K, int V, int PER_BYTE, int TT, bool BIAS, typename TX,
          typename TB, typename TY, typename Dequant>
__device__ __forceinline__ void gemv_dequant_row(int n, int T, const TX *x,
                                                 const unsigned char *wr,
                                                 Dequant dequant,
                                                 const TB *bias, TY *y) {
  constexpr int BYTES = V / PER_BYTE; // per lane and pass
  const int lane = threadIdx.x % 32;
  for (int t0 = 0; t0 < T; t0 += TT) {
    float acc[TT];
#pragma unroll
    for (int t = 0; t < TT; ++t)
      acc[t] = 0.0f;
    for (int k = lane * V; k < K; k += 32 * V) {
      alignas(16) unsigned char codes[BYTES];
      if constexpr (BYTES == 16)
        *reinterpret_cast<uint4 *>(codes) =
            *reinterpret_cast<const uint4 *>(wr + k / PER_BYTE);
      else
        codes[0] = wr[k / PER_BYTE];
      float wf[V];
      dequant(codes, k, wf);
#pragma unroll
      for (int t = 0; t < TT; ++t) {
        if (t0 + t < T) {
          float xf[V];
          load_n<TX, V>(x + size_t(t0 + t) * K + k, xf);
#pragma unroll
          for (int i = 0; i < V; ++i)
            acc[t] = fmaf(xf[i], wf[i], acc[t]);
        }
      }
    }
#pragma unroll
    for (int t = 0; t < TT; ++t) {
      const float s = warp_sum(acc[t]);
      if (lane == 0 && t0 + t < T)
        y[size_t(t0 + t) * N + n] = from_f<TY>(BIAS ? s + to_f(bias[n]) : s);
    }
  }
}

// A linear layer over an FP8-block quantized weight (plan format 1.5): W as
// E4M3 codes [N, K] with one f32 scale per BN x BK block (scales [ceil(N /
// BN), ceil(K / BK)]; the last block of a dimension may be partial).
// y[t, n] = sum_k x[t, k] * (code * scale) (+ bias[n]): each weight
// dequantized in registers by one fp32 product, as the CPU reference does,
// and summed in fp32. One warp per output row (blockDim / 32 rows per
// block), each lane reading V consecutive codes (16 bytes when K allows);
// tokens in chunks of TT whose sums stay in registers, for every step size
// (a prefill reads each row once per TT tokens).
template <int N, int K, int BN, int BK, int TT, bool BIAS, typename TX,
          typename TB, typename TY>
__device__ __forceinline__ void gemv_e4m3(int T, const TX *x,
                                          const unsigned char *w,
                                          const float *scales, const TB *bias,
                                          TY *y) {
  constexpr int V = K % 16 == 0 ? 16 : 1;
  constexpr int SC = (K + BK - 1) / BK;
  const int n = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (n >= N)
    return;
  const float *sr = scales + size_t(n / BN) * SC;
  gemv_dequant_row<N, K, V, 1, TT, BIAS>(
      n, T, x, w + size_t(n) * K,
      [&](const unsigned char *codes, int k, float *wf) {
#pragma unroll
        for (int i = 0; i < V; ++i)
          wf[i] = e4m3_to_f(codes[i]) * sr[(k + i) / BK];
      },
      bias, y);
}

// A linear layer over an integer group-quantized weight (plan format 1.6):
// W as signed BITS-bit codes [N, K] (BITS 4: two per byte with element 2j
// in the low nibble of byte j, K even; BITS 8: one per byte) and one TS
// (f16, bf16 or f32) scale per group of BK consecutive elements of a row
// (scales [N, ceil(K / BK)]) and, with ZP, a signed-byte zero point per
// group (the scales' shape). y[t, n] = sum_k x[t, k] * ((code - zero) *
// scale) (+ bias[n]): each weight dequantized in registers by one fp32
// product, as the CPU reference does, and summed in fp32. One warp per
// output row, each lane reading 16 bytes (32 int4 or 16 int8 codes) per
// pass when K allows, else one byte; tokens in chunks of TT, for every
// step size.
template <int BITS, int N, int K, int BK, int TT, bool BIAS, bool ZP,
          typename TX, typename TS, typename TB, typename TY>
__device__ __forceinline__ void gemv_int(int T, const TX *x,
                                         const unsigned char *w,
                                         const TS *scales,
                                         const signed char *zeros,
                                         const TB *bias, TY *y) {
  static_assert(BITS == 4 || BITS == 8, "int4 or int8 codes");
  static_assert(BITS == 8 || K % 2 == 0, "int4 rows hold whole bytes");
  constexpr int PER_BYTE = 8 / BITS;
  constexpr int WIDE = 16 * PER_BYTE; // codes in 16 bytes
  constexpr int V = K % WIDE == 0 ? WIDE : PER_BYTE; // codes per lane and pass
  constexpr int SC = (K + BK - 1) / BK;
  const int n = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (n >= N)
    return;
  const TS *sr = scales + size_t(n) * SC;
  const signed char *zr = ZP ? zeros + size_t(n) * SC : nullptr;
  gemv_dequant_row<N, K, V, PER_BYTE, TT, BIAS>(
      n, T, x, w + size_t(n) * (K / PER_BYTE),
      [&](const unsigned char *packed, int k, float *wf) {
#pragma unroll
        for (int i = 0; i < V; ++i) {
          // The code moved to the top bits, then shifted down with its
          // sign: two's complement.
          int code;
          if constexpr (BITS == 4)
            code = int(unsigned(packed[i / 2]) << (i % 2 == 0 ? 28 : 24)) >> 28;
          else
            code = int(unsigned(packed[i]) << 24) >> 24;
          const float zero = ZP ? float(zr[(k + i) / BK]) : 0.0f;
          wf[i] = (float(code) - zero) * to_f(sr[(k + i) / BK]);
        }
      },
      bias, y);
}

template <int N, int K, int BK, int TT, bool BIAS, bool ZP, typename TX,
          typename TS, typename TB, typename TY>
__device__ __forceinline__ void gemv_i4(int T, const TX *x,
                                        const unsigned char *w,
                                        const TS *scales,
                                        const signed char *zeros,
                                        const TB *bias, TY *y) {
  gemv_int<4, N, K, BK, TT, BIAS, ZP, TX, TS, TB, TY>(T, x, w, scales, zeros,
                                                     bias, y);
}

template <int N, int K, int BK, int TT, bool BIAS, bool ZP, typename TX,
          typename TS, typename TB, typename TY>
__device__ __forceinline__ void gemv_i8(int T, const TX *x,
                                        const unsigned char *w,
                                        const TS *scales,
                                        const signed char *zeros,
                                        const TB *bias, TY *y) {
  gemv_int<8, N, K, BK, TT, BIAS, ZP, TX, TS, TB, TY>(T, x, w, scales, zeros,
                                                     bias, y);
}
