// norm.cuh - RMSNorm and residual add + RMSNorm. One block per (token,
// group): block b normalizes elements [g * SIZE, (g + 1) * SIZE) of token
// b / GROUPS, g = b % GROUPS; each thread keeps its VPT elements in
// registers between the reduction and the store.

enum {
  NORM_CAST_BEFORE_WEIGHT = 0, // round(x * r) to TC, then * w (Llama, Qwen)
  NORM_WEIGHT_IN_FP32 = 1,     // x * r * w
  NORM_ONE_PLUS_WEIGHT = 2,    // x * r * (1 + w) (Gemma)
  NORM_NO_WEIGHT = 3           // x * r
};

template <int VARIANT, typename TC, typename TW>
__device__ __forceinline__ float norm_apply(float x, float r, const TW *w,
                                            int k) {
  if constexpr (VARIANT == NORM_CAST_BEFORE_WEIGHT)
    return round_to<TC>(x * r) * to_f(w[k]);
  else if constexpr (VARIANT == NORM_WEIGHT_IN_FP32)
    return x * r * to_f(w[k]);
  else if constexpr (VARIANT == NORM_ONE_PLUS_WEIGHT)
    return x * r * (1.0f + to_f(w[k]));
  else
    return x * r;
}

// out = RMSNorm(x); TC is the type CastBeforeWeight rounds to (x's).
template <int SIZE, int GROUPS, int BLOCK, int VARIANT, typename TX,
          typename TW, typename TO>
__device__ __forceinline__ void rms_norm(const TX *x, const TW *w, TO *out,
                                         float eps) {
  constexpr int VPT = (SIZE + BLOCK - 1) / BLOCK;
  const size_t base = size_t(blockIdx.x) * SIZE; // (t * GROUPS + g) * SIZE
  float v[VPT];
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < VPT; ++j) {
    const int k = threadIdx.x + j * BLOCK;
    v[j] = k < SIZE ? to_f(x[base + k]) : 0.0f;
    ss += v[j] * v[j];
  }
  const float r = 1.0f / sqrtf(block_sum<BLOCK>(ss) / float(SIZE) + eps);
#pragma unroll
  for (int j = 0; j < VPT; ++j) {
    const int k = threadIdx.x + j * BLOCK;
    if (k < SIZE)
      out[base + k] = from_f<TO>(norm_apply<VARIANT, TX>(v[j], r, w, k));
  }
}

// sum = round(x + residual); normed = RMSNorm(sum), CastBeforeWeight
// rounding to sum's type.
template <int SIZE, int BLOCK, int VARIANT, typename TX, typename TR,
          typename TW, typename TN, typename TS>
__device__ __forceinline__ void add_rms_norm(const TX *x, const TR *residual,
                                             const TW *w, TN *normed,
                                             TS *sum, float eps) {
  constexpr int VPT = (SIZE + BLOCK - 1) / BLOCK;
  const size_t base = size_t(blockIdx.x) * SIZE;
  float v[VPT];
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < VPT; ++j) {
    const int k = threadIdx.x + j * BLOCK;
    v[j] = k < SIZE ? round_to<TS>(to_f(x[base + k]) + to_f(residual[base + k]))
                    : 0.0f;
    ss += v[j] * v[j];
  }
  const float r = 1.0f / sqrtf(block_sum<BLOCK>(ss) / float(SIZE) + eps);
#pragma unroll
  for (int j = 0; j < VPT; ++j) {
    const int k = threadIdx.x + j * BLOCK;
    if (k < SIZE) {
      sum[base + k] = from_f<TS>(v[j]);
      normed[base + k] = from_f<TN>(norm_apply<VARIANT, TS>(v[j], r, w, k));
    }
  }
}
