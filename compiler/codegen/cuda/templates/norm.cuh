// norm.cuh - RMSNorm and residual add + RMSNorm. One block per (token,
// group): block b normalizes elements [g * SIZE, (g + 1) * SIZE) of token
// b / GROUPS, g = b % GROUPS; each thread keeps its VPT elements in
// registers between the reduction and the store.

// NORM_*, the variants (plan_enums.cuh): where the weight is applied and
// when the result is rounded.

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

// out[base ..] = RMSNorm(x[base ..]) over SIZE elements, by the block; TC
// is the type CastBeforeWeight rounds to (x's).
template <int SIZE, int BLOCK, int VARIANT, typename TX, typename TW,
          typename TO>
__device__ __forceinline__ void rms_norm_row(const TX *x, const TW *w,
                                             TO *out, size_t base,
                                             float eps) {
  constexpr int VPT = (SIZE + BLOCK - 1) / BLOCK;
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

// out = RMSNorm(x) per group: block b = t * GROUPS + g.
template <int SIZE, int GROUPS, int BLOCK, int VARIANT, typename TX,
          typename TW, typename TO>
__device__ __forceinline__ void rms_norm(const TX *x, const TW *w, TO *out,
                                         float eps) {
  rms_norm_row<SIZE, BLOCK, VARIANT, TX, TW, TO>(
      x, w, out, size_t(blockIdx.x) * SIZE, eps);
}

// Two per-group RMSNorms of one size in one launch (a layer's Q and K
// norms): token t's blocks t * (G0 + G1) + g normalize group g of x0 for
// g < G0, else group g - G0 of x1, each exactly as rms_norm.
template <int SIZE, int G0, int G1, int BLOCK, int VARIANT, typename TX,
          typename TW, typename TO>
__device__ __forceinline__ void rms_norm_pair(const TX *x0, const TW *w0,
                                              TO *out0, const TX *x1,
                                              const TW *w1, TO *out1,
                                              float eps) {
  const int t = blockIdx.x / (G0 + G1), g = blockIdx.x % (G0 + G1);
  if (g < G0)
    rms_norm_row<SIZE, BLOCK, VARIANT, TX, TW, TO>(
        x0, w0, out0, (size_t(t) * G0 + g) * SIZE, eps);
  else
    rms_norm_row<SIZE, BLOCK, VARIANT, TX, TW, TO>(
        x1, w1, out1, (size_t(t) * G1 + (g - G0)) * SIZE, eps);
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
