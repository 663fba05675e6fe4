// moe.cuh - Mixture-of-Experts: the router and the routed experts, as
// plan.fbs's MoERouter and MoEExperts define them (the CPU reference is
// runtime/src/cpu/MoEOps.cpp). Only the chosen experts' weights are read:
// each (token, choice) pair streams its expert's rows, so a decode step
// reads k experts per token, never all E.

// The dot product of a warp: x[0, N) . w[0, N), VEC: 16-byte loads of w
// (and of x), lanes striding by 32 vectors; the sum reaches every lane.
template <int N, bool VEC, typename TX, typename TW>
__device__ __forceinline__ float warp_dot(const TX *x, const TW *w) {
  constexpr int V = VEC ? 16 / int(sizeof(TW)) : 1;
  static_assert(!VEC || N % V == 0, "vector path needs whole vectors");
  const int lane = threadIdx.x % 32;
  float acc = 0.0f;
  for (int k = lane * V; k < N; k += 32 * V) {
    float wf[V], xf[V];
    load_n<TW, V>(w + k, wf);
    load_n<TX, V>(x + k, xf);
#pragma unroll
    for (int i = 0; i < V; ++i)
      acc = fmaf(xf[i], wf[i], acc);
  }
  return warp_sum(acc);
}

// Router: block t scores token t. Each warp computes logits of experts
// warp, warp + WARPS, ... (lanes stride the hidden dimension); then thread
// 0 scores, limits groups, takes the top K (lower index first among equal
// scores) and weighs them. SCORING: SCORE_* and GSCORE: GROUP_SCORE_*
// (plan_enums.cuh).
// LBIAS (gpt-oss): logit_bias[e] joins each logit before its rounding;
// SCORE_SOFTMAX_TOP_K chooses by the logits and weighs the chosen by their
// softmax.
template <int E, int H, int K, int SCORING, bool F32_LOGITS, bool BIAS,
          int GROUPS, int TOPG, int GSCORE, bool NORM, typename TX,
          typename TW, typename TR, bool LBIAS = false, typename TB = float>
__device__ __forceinline__ void moe_router(int T, const TX *x, const TW *w,
                                           const float *bias, float eps,
                                           float scaling, TR *weights,
                                           int *ids,
                                           const TB *logit_bias = nullptr) {
  __shared__ float s[E]; // scores
  __shared__ float c[E]; // choice scores
  __shared__ unsigned char taken[E > GROUPS ? E : GROUPS];
  const int t = blockIdx.x;
  if (t >= T)
    return;
  const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  const TX *xr = x + size_t(t) * H;
  for (int e = threadIdx.x / 32; e < E; e += warps) {
    float acc = warp_dot<H, false, TX, TW>(xr, w + size_t(e) * H);
    if (LBIAS)
      acc += to_f(logit_bias[e]);
    if (lane == 0)
      s[e] = F32_LOGITS ? acc : round_to<TX>(acc);
  }
  __syncthreads();
  if (threadIdx.x != 0)
    return;
  // SCORE_SOFTMAX_TOP_K: the logits themselves choose; the weights come
  // after the choice.
  if constexpr (SCORING == SCORE_SOFTMAX) {
    float m = s[0];
    for (int e = 1; e < E; ++e)
      m = fmaxf(m, s[e]);
    float sum = 0.0f;
    for (int e = 0; e < E; ++e) {
      s[e] = expf(s[e] - m);
      sum += s[e];
    }
    for (int e = 0; e < E; ++e)
      s[e] /= sum;
  } else if constexpr (SCORING == SCORE_SIGMOID) {
    for (int e = 0; e < E; ++e)
      s[e] = 1.0f / (1.0f + expf(-s[e]));
  }
  for (int e = 0; e < E; ++e)
    c[e] = BIAS ? s[e] + bias[e] : s[e];
  if constexpr (GROUPS > 1) {
    constexpr int PER = E / GROUPS;
    float g[GROUPS];
    for (int q = 0; q < GROUPS; ++q) {
      float first = -LLMC_INF, second = -LLMC_INF;
      for (int e = 0; e < PER; ++e) {
        const float v = c[q * PER + e];
        if (v > first) {
          second = first;
          first = v;
        } else if (v > second) {
          second = v;
        }
      }
      g[q] = GSCORE == GROUP_SCORE_MAX ? first : first + second;
      taken[q] = 0;
    }
    for (int j = 0; j < TOPG; ++j) {
      int b = -1;
      for (int q = 0; q < GROUPS; ++q)
        if (!taken[q] && (b < 0 || g[q] > g[b] || g[b] != g[b]))
          b = q;
      taken[b] = 1;
    }
    for (int q = 0; q < GROUPS; ++q)
      if (!taken[q])
        for (int e = 0; e < PER; ++e)
          c[q * PER + e] = -LLMC_INF;
  }
  for (int e = 0; e < E; ++e)
    taken[e] = 0;
  int chosen[K];
  float sum = 0.0f;
  for (int j = 0; j < K; ++j) {
    int b = -1;
    for (int e = 0; e < E; ++e)
      if (!taken[e] && (b < 0 || c[e] > c[b] || c[b] != c[b]))
        b = e;
    taken[b] = 1;
    chosen[j] = b;
    sum += s[b];
  }
  float top[K];
  for (int j = 0; j < K; ++j)
    top[j] = s[chosen[j]];
  if constexpr (SCORING == SCORE_SOFTMAX_TOP_K) {
    // top[0] is the largest chosen logit.
    sum = 0.0f;
    for (int j = 0; j < K; ++j)
      sum += top[j] = expf(top[j] - s[chosen[0]]);
    for (int j = 0; j < K; ++j)
      top[j] /= sum;
  }
  const float denominator = sum + eps;
  for (int j = 0; j < K; ++j) {
    float v = top[j];
    if (NORM)
      v /= denominator;
    v *= scaling;
    ids[size_t(t) * K + j] = chosen[j];
    weights[size_t(t) * K + j] = from_f<TR>(v);
  }
}

// Per-token scalar gate: block t computes g = round(sigmoid(round(x_t . w)))
// (warp 0) and y_t = round(g * v_t).
template <int H, int N, typename TX, typename TW, typename TY>
__device__ __forceinline__ void sigmoid_gate(int T, const TX *x, const TW *w,
                                             const TY *v, TY *y) {
  __shared__ float g;
  const int t = blockIdx.x;
  if (t >= T)
    return;
  if (threadIdx.x < 32) {
    const float acc = warp_dot<H, false, TX, TW>(x + size_t(t) * H, w);
    if (threadIdx.x == 0)
      g = round_to<TY>(1.0f / (1.0f + expf(-round_to<TY>(acc))));
  }
  __syncthreads();
  for (int n = threadIdx.x; n < N; n += blockDim.x)
    y[size_t(t) * N + n] = from_f<TY>(g * to_f(v[size_t(t) * N + n]));
}

// Llama 4's scaled expert inputs: xs[t * K + j] = round(w[t, j] * x[t])
// and ones[t * K + j] = 1 (the unweighted sum of the experts' outputs
// through the weighted kernels: times 1 is exact). Block (c, t) covers
// columns [c * blockDim.x, ...) of token t.
template <int H, int K, typename TX, typename TR>
__device__ __forceinline__ void moe_scale_input(int T, const TX *x,
                                                const TR *weights, TX *xs,
                                                TR *ones) {
  const int t = blockIdx.y;
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= T || n >= H)
    return;
  const float v = to_f(x[size_t(t) * H + n]);
#pragma unroll
  for (int j = 0; j < K; ++j) {
    xs[(size_t(t) * K + j) * H + n] =
        from_f<TX>(to_f(weights[t * K + j]) * v);
    if (n == 0)
      ones[t * K + j] = from_f<TR>(1.0f);
  }
}

// Row n of pair p's intermediate from expert e's gate and up products:
// round(act(round(g))) * round(u), or with BIAS (gpt-oss) gate_up_bias[e]
// [2I] joining the rounded products, rounded again, and with OAI
// oai_swiglu (prelude.cuh) instead of act(g) * u.
template <int I, int ACT, typename TY, bool BIAS, bool OAI, typename TB>
__device__ __forceinline__ float moe_gate_up_out(float gv, float uv, int e,
                                                 int n, const TB *bias,
                                                 float limit, float alpha) {
  float gr = round_to<TY>(gv), ur = round_to<TY>(uv);
  if (BIAS) {
    gr = round_to<TY>(gr + to_f(bias[size_t(e) * 2 * I + n]));
    ur = round_to<TY>(ur + to_f(bias[size_t(e) * 2 * I + I + n]));
  }
  return OAI ? oai_swiglu<TY>(gr, ur, limit, alpha)
             : round_to<TY>(activate<ACT>(gr)) * ur;
}

// Gate and up of the chosen experts: block (p, r) with p = t * K + j runs
// choice j of token t, e = ids[p]; warp w of the block computes row
// n = r * WARPS + w of m[p] = round(act(round(gate_e . x))) * round(up_e . x),
// gate_up[e] being [2I, H] (gate rows first). Pair p reads row p / XDIV of
// x: its token's (XDIV = K), or its own (XDIV = 1, moe_scale_input's rows).
// BIAS (gpt-oss): gate_up_bias[e] [2I] joins the rounded products, rounded
// again; OAI: oai_swiglu (prelude.cuh) instead of act(gate) * up.
template <int E, int H, int I, int K, int ACT, bool VEC, typename TX,
          typename TW, typename TY, int XDIV = K, bool BIAS = false,
          bool OAI = false, typename TB = float>
__device__ __forceinline__ void moe_gate_up(int T, const TX *x,
                                            const int *ids, const TW *gate_up,
                                            TY *m, const TB *bias = nullptr,
                                            float limit = 0.0f,
                                            float alpha = 0.0f) {
  const int p = blockIdx.x;
  const int n = blockIdx.y * (blockDim.x / 32) + threadIdx.x / 32;
  if (p >= T * K || n >= I)
    return;
  const int e = ids[p];
  if (e < 0 || e >= E)
    return; // the router never writes one; the plan verifier bounds E
  const TX *xr = x + size_t(p / XDIV) * H;
  const TW *g = gate_up + (size_t(e) * 2 * I + n) * H;
  const float gv = warp_dot<H, VEC, TX, TW>(xr, g);
  const float uv = warp_dot<H, VEC, TX, TW>(xr, g + size_t(I) * H);
  if (threadIdx.x % 32 == 0)
    m[size_t(p) * I + n] = from_f<TY>(
        moe_gate_up_out<I, ACT, TY, BIAS, OAI>(gv, uv, e, n, bias, limit, alpha));
}

// The weighted sum of token t's chosen experts at row n of the output,
// computed by a whole warp (the sum reaches every lane):
// sum_j round_w(w[t, j] * round(down_e . m[t, j])) with down[e] [H, I], in
// fp32 in choice order. BIAS (gpt-oss): down_bias[e] [H] joins the rounded
// product, rounded again, before the weighting.
template <int E, int H, int K, typename TR, typename TY, bool BIAS,
          typename TB, typename Dot>
__device__ __forceinline__ float moe_routed_sum(int t, int n,
                                                const TR *weights,
                                                const int *ids, const TB *bias,
                                                Dot dot) {
  float acc = 0.0f;
  for (int j = 0; j < K; ++j) {
    const int p = t * K + j;
    const int e = ids[p];
    if (e < 0 || e >= E)
      continue;
    float yv = round_to<TY>(dot(p, e));
    if (BIAS)
      yv = round_to<TY>(yv + to_f(bias[size_t(e) * H + n]));
    acc += round_to<TR>(to_f(weights[p]) * yv);
  }
  return acc;
}

template <int E, int H, int I, int K, bool VEC, typename TM, typename TW,
          typename TR, typename TY, bool BIAS, typename TB>
__device__ __forceinline__ float moe_routed_row(int t, int n, const TM *m,
                                                const TR *weights,
                                                const int *ids,
                                                const TW *down,
                                                const TB *bias) {
  return moe_routed_sum<E, H, K, TR, TY, BIAS>(
      t, n, weights, ids, bias, [&](int p, int e) {
        return warp_dot<I, VEC, TM, TW>(m + size_t(p) * I,
                                        down + (size_t(e) * H + n) * I);
      });
}

// Down and the weighted sum: block (t, r), warp w computes row
// n = r * WARPS + w of y[t] = round(moe_routed_row(t, n)).
template <int E, int H, int I, int K, bool VEC, typename TM, typename TW,
          typename TR, typename TY, bool BIAS = false, typename TB = float>
__device__ __forceinline__ void moe_down(int T, const TM *m,
                                         const TR *weights, const int *ids,
                                         const TW *down, TY *y,
                                         const TB *bias = nullptr) {
  const int t = blockIdx.x;
  const int n = blockIdx.y * (blockDim.x / 32) + threadIdx.x / 32;
  if (t >= T || n >= H)
    return;
  const float acc = moe_routed_row<E, H, I, K, VEC, TM, TW, TR, TY, BIAS, TB>(
      t, n, m, weights, ids, down, bias);
  if (threadIdx.x % 32 == 0)
    y[size_t(t) * H + n] = from_f<TY>(acc);
}

// The routed experts and a shared expert in the same two launches (decode:
// Qwen2-MoE, DeepSeek, GLM-4.5, Llama 4). The shared expert is one more
// "choice" of every token, with weights of its own and intermediate size
// IS, whose output joins the routed sum as transformers adds them.
//
// Gate and up: blocks p < T * K are moe_gate_up's pairs; block
// p = T * K + t computes row n of token t's shared intermediate
// ms[t] = round(act(round(sg . x_t))) * round(su . x_t) (sg, su [IS, H]; x_t
// the token's own row of xtok, x itself but under Llama 4's scaled inputs).
template <int E, int H, int I, int K, int ACT, bool VEC, typename TX,
          typename TW, typename TY, int XDIV, int IS, int ACTS>
__device__ __forceinline__ void
moe_gate_up_shared(int T, const TX *x, const int *ids, const TW *gate_up,
                   TY *m, const TX *xtok, const TW *shared_gate,
                   const TW *shared_up, TY *ms) {
  const int p = blockIdx.x;
  if (p < T * K) {
    moe_gate_up<E, H, I, K, ACT, VEC, TX, TW, TY, XDIV>(T, x, ids, gate_up, m);
    return;
  }
  const int t = p - T * K;
  const int n = blockIdx.y * (blockDim.x / 32) + threadIdx.x / 32;
  if (t >= T || n >= IS)
    return;
  const TX *xr = xtok + size_t(t) * H;
  const float gv = warp_dot<H, VEC, TX, TW>(xr, shared_gate + size_t(n) * H);
  const float uv = warp_dot<H, VEC, TX, TW>(xr, shared_up + size_t(n) * H);
  if (threadIdx.x % 32 == 0)
    ms[size_t(t) * IS + n] = from_f<TY>(
        round_to<TY>(activate<ACTS>(round_to<TY>(gv))) * round_to<TY>(uv));
}

// Down: block (t, r), warp w computes row n = r * WARPS + w of
// y[t] = round(round(moe_routed_row(t, n)) + s) with the shared expert's
// s = round(sd[n] . ms[t]) (sd [H, IS]), scaled first when SGATE (Qwen2-MoE)
// by the token's g = round(sigmoid(round(gw . x_t))): s = round(g * s), as
// llm.sigmoid_gate does. Warp 0 computes g once per block.
template <int E, int H, int I, int K, bool VEC, typename TW, typename TR,
          typename TY, int IS, bool VECS, bool SGATE, typename TG>
__device__ __forceinline__ void
moe_down_shared(int T, const TY *m, const TR *weights, const int *ids,
                const TW *down, TY *y, const TY *ms, const TW *shared_down,
                const TY *xtok, const TG *gate_w) {
  __shared__ float g;
  const int t = blockIdx.x;
  if (t >= T)
    return; // the whole block
  if constexpr (SGATE) {
    if (threadIdx.x < 32) {
      const float acc = warp_dot<H, false, TY, TG>(xtok + size_t(t) * H, gate_w);
      if (threadIdx.x == 0)
        g = round_to<TY>(1.0f / (1.0f + expf(-round_to<TY>(acc))));
    }
    __syncthreads();
  }
  const int n = blockIdx.y * (blockDim.x / 32) + threadIdx.x / 32;
  if (n >= H)
    return;
  const float routed = round_to<TY>(
      moe_routed_row<E, H, I, K, VEC, TY, TW, TR, TY, false, float>(
          t, n, m, weights, ids, down, nullptr));
  float s = round_to<TY>(warp_dot<IS, VECS, TY, TW>(
      ms + size_t(t) * IS, shared_down + size_t(n) * IS));
  if constexpr (SGATE)
    s = round_to<TY>(g * s);
  if (threadIdx.x % 32 == 0)
    y[size_t(t) * H + n] = from_f<TY>(routed + s);
}

// Quantized experts (plan format 1.7): a weight [E, R, C] stored as codes,
// QFMT_E4M3 (FP8, one per byte, f32 scales) or QFMT_E2M1 (MXFP4, two per
// byte with the lower-indexed in the low nibble, e8m0 scale bytes), with
// one scale per block of BR rows x BC columns of an expert (scales [E,
// ceil(R / BR), ceil(C / BC)]). Each code is dequantized in registers by
// one fp32 product with its block's scale, as the CPU reference does.
// The dot product of a warp: x[0, C) . row r of expert e's matrix [R, C]
// (codes w, scales s), lanes striding by 32 vectors of 16 code bytes when C
// allows, else by single bytes; the sum reaches every lane.
template <int R, int C, int FMT, int BR, int BC, typename TX, typename TS>
__device__ __forceinline__ float q_warp_dot(const TX *x,
                                            const unsigned char *w,
                                            const TS *s, int e, int r) {
  constexpr int PER_BYTE = FMT == QFMT_E2M1 ? 2 : 1;
  constexpr int WIDE = 16 * PER_BYTE;
  constexpr int V = C % WIDE == 0 ? WIDE : PER_BYTE; // codes per pass
  constexpr int BYTES = V / PER_BYTE;
  constexpr int SC = (C + BC - 1) / BC, SR = (R + BR - 1) / BR;
  const unsigned char *row = w + (size_t(e) * R + r) * (C / PER_BYTE);
  const TS *sr = s + (size_t(e) * SR + r / BR) * SC;
  const int lane = threadIdx.x % 32;
  float acc = 0.0f;
  for (int k = lane * V; k < C; k += 32 * V) {
    alignas(16) unsigned char b[BYTES];
    if constexpr (BYTES == 16)
      *reinterpret_cast<uint4 *>(b) =
          *reinterpret_cast<const uint4 *>(row + k / PER_BYTE);
    else
      b[0] = row[k / PER_BYTE];
    float xf[V];
    load_n<TX, V>(x + k, xf);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const float code = FMT == QFMT_E2M1
                             ? e2m1_to_f(unsigned(b[i / 2]) >> (4 * (i % 2)))
                             : e4m3_to_f(b[i]);
      acc = fmaf(xf[i], code * q_scale<FMT>(sr[(k + i) / BC]), acc);
    }
  }
  return warp_sum(acc);
}

// moe_gate_up over quantized gate_up [E, 2I, H] (codes, scales; blocks of
// BR x BC): the same pairs, rows and epilogue.
template <int E, int H, int I, int K, int ACT, int FMT, int BR, int BC,
          typename TX, typename TS, typename TY, int XDIV = K,
          bool BIAS = false, bool OAI = false, typename TB = float>
__device__ __forceinline__ void
moe_gate_up_q(int T, const TX *x, const int *ids, const unsigned char *gate_up,
              const TS *scales, TY *m, const TB *bias = nullptr,
              float limit = 0.0f, float alpha = 0.0f) {
  const int p = blockIdx.x;
  const int n = blockIdx.y * (blockDim.x / 32) + threadIdx.x / 32;
  if (p >= T * K || n >= I)
    return;
  const int e = ids[p];
  if (e < 0 || e >= E)
    return; // the router never writes one; the plan verifier bounds E
  const TX *xr = x + size_t(p / XDIV) * H;
  const float gv =
      q_warp_dot<2 * I, H, FMT, BR, BC, TX, TS>(xr, gate_up, scales, e, n);
  const float uv = q_warp_dot<2 * I, H, FMT, BR, BC, TX, TS>(
      xr, gate_up, scales, e, I + n);
  if (threadIdx.x % 32 == 0)
    m[size_t(p) * I + n] = from_f<TY>(
        moe_gate_up_out<I, ACT, TY, BIAS, OAI>(gv, uv, e, n, bias, limit, alpha));
}

// moe_down over quantized down [E, H, I] (codes, scales; blocks of BR x
// BC): block (t, r), warp w computes row n = r * WARPS + w of
// y[t] = round(sum_j round_w(w[t, j] * round(down_e . m[t, j]))), in fp32
// in choice order. BIAS (gpt-oss): down_bias[e] [H] joins the rounded
// product, rounded again, before the weighting.
template <int E, int H, int I, int K, int FMT, int BR, int BC, typename TM,
          typename TS, typename TR, typename TY, bool BIAS = false,
          typename TB = float>
__device__ __forceinline__ void
moe_down_q(int T, const TM *m, const TR *weights, const int *ids,
           const unsigned char *down, const TS *scales, TY *y,
           const TB *bias = nullptr) {
  const int t = blockIdx.x;
  const int n = blockIdx.y * (blockDim.x / 32) + threadIdx.x / 32;
  if (t >= T || n >= H)
    return;
  const float acc = moe_routed_sum<E, H, K, TR, TY, BIAS>(
      t, n, weights, ids, bias, [&](int p, int e) {
        return q_warp_dot<H, I, FMT, BR, BC, TM, TS>(m + size_t(p) * I, down,
                                                     scales, e, n);
      });
  if (threadIdx.x % 32 == 0)
    y[size_t(t) * H + n] = from_f<TY>(acc);
}
