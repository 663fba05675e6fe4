// elementwise.cuh - embedding gather, GLU, add, softcap, RoPE and the
// KV-cache write: one thread per element (or rotated pair), token t =
// blockIdx.y, elements blockIdx.x * blockDim.x + threadIdx.x.

// out[t] = table[tokens[t]] * scale.
template <int VOCAB, int HIDDEN, typename TW, typename TO>
__device__ __forceinline__ void embedding(const int *tokens, const TW *table,
                                          TO *out, float scale) {
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= HIDDEN)
    return;
  const int token = tokens[t];
  out[size_t(t) * HIDDEN + i] =
      from_f<TO>(to_f(table[size_t(token) * HIDDEN + i]) * scale);
}

// out = round(act(gate)) * up.
template <int SIZE, int ACT, typename TG, typename TU, typename TO>
__device__ __forceinline__ void glu(const TG *gate, const TU *up, TO *out) {
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= SIZE)
    return;
  const size_t k = size_t(t) * SIZE + i;
  out[k] = from_f<TO>(round_to<TO>(activate<ACT>(to_f(gate[k]))) * to_f(up[k]));
}

// out = a + b.
template <int SIZE, typename TA, typename TB, typename TO>
__device__ __forceinline__ void add(const TA *a, const TB *b, TO *out) {
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= SIZE)
    return;
  const size_t k = size_t(t) * SIZE + i;
  out[k] = from_f<TO>(to_f(a[k]) + to_f(b[k]));
}

// out = x * factor, or x / factor when DIVIDE, in fp32.
template <int SIZE, bool DIVIDE, typename TX, typename TO>
__device__ __forceinline__ void scale(const TX *x, TO *out, float factor) {
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= SIZE)
    return;
  const size_t k = size_t(t) * SIZE + i;
  const float v = to_f(x[k]);
  out[k] = from_f<TO>(DIVIDE ? v / factor : v * factor);
}

// out = x * (1 + scale * log1p(floor((positions[t] + 1) / floor_scale))),
// in fp32 in transformers' order (Llama 4's attention temperature tuning).
template <int SIZE, typename TX, typename TO>
__device__ __forceinline__ void attn_temperature(const TX *x,
                                                 const int *positions, TO *out,
                                                 float floor_scale,
                                                 float scale) {
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= SIZE)
    return;
  const float f = floorf((float(positions[t]) + 1.0f) / floor_scale);
  const float s = log1pf(f) * scale + 1.0f;
  const size_t k = size_t(t) * SIZE + i;
  out[k] = from_f<TO>(to_f(x[k]) * s);
}

// out = cap * tanh(x / cap).
template <int SIZE, typename TX, typename TO>
__device__ __forceinline__ void softcap(const TX *x, TO *out, float cap) {
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= SIZE)
    return;
  const size_t k = size_t(t) * SIZE + i;
  out[k] = from_f<TO>(cap * tanhf(to_f(x[k]) / cap));
}

// Rotates ROT_DIM elements of every head of token t, from OFFSET on, by
// positions[t] * inv_freq[k]; cos and sin in fp32, times scaling, rounded to
// TX, every product rounded to TX (transformers' apply_rotary_pos_emb in the
// activation dtype), or with FP32 all in fp32 and rounded once. Index
// i < HEADS * ROT_DIM / 2 rotates one pair; the next
// HEADS * (HEAD_DIM - ROT_DIM) copy the rest. Each result also goes to
// `cache_row` (as kv_cache_write would store it) when that is not null.
template <int HEADS, int HEAD_DIM, int ROT_DIM, bool INTERLEAVED, typename TX,
          typename TO, typename TC, int OFFSET = 0, bool FP32 = false>
__device__ __forceinline__ void rope_index(int i, int t, const TX *x,
                                           const int *positions, TO *out,
                                           TC *cache_row,
                                           const float *inv_freq,
                                           float scaling) {
  typedef typename llmc_round_type<FP32, TX>::type TR;
  constexpr int HALF = ROT_DIM / 2;
  constexpr int PASS = HEAD_DIM - ROT_DIM;
  const TX *xt = x + size_t(t) * HEADS * HEAD_DIM;
  TO *yt = out + size_t(t) * HEADS * HEAD_DIM;
  if (i < HEADS * HALF) {
    const int h = i / HALF, k = i % HALF;
    const float angle = float(positions[t]) * inv_freq[k];
    const float c = round_to<TR>(cosf(angle) * scaling);
    const float s = round_to<TR>(sinf(angle) * scaling);
    const int i1 = h * HEAD_DIM + OFFSET + (INTERLEAVED ? 2 * k : k);
    const int i2 =
        h * HEAD_DIM + OFFSET + (INTERLEAVED ? 2 * k + 1 : k + HALF);
    const float x1 = to_f(xt[i1]);
    const float x2 = to_f(xt[i2]);
    const TO y1 = from_f<TO>(round_to<TR>(x1 * c) + round_to<TR>(-x2 * s));
    const TO y2 = from_f<TO>(round_to<TR>(x2 * c) + round_to<TR>(x1 * s));
    yt[i1] = y1;
    yt[i2] = y2;
    if (cache_row) {
      cache_row[i1] = from_f<TC>(to_f(y1));
      cache_row[i2] = from_f<TC>(to_f(y2));
    }
  } else if (PASS > 0 && i < HEADS * HALF + HEADS * PASS) {
    const int j = i - HEADS * HALF;
    const int h = j / (PASS > 0 ? PASS : 1), m = j % (PASS > 0 ? PASS : 1);
    // The elements before the rotated span, then those after it.
    const int k = m < OFFSET ? m : m + ROT_DIM;
    const TO y = from_f<TO>(to_f(xt[h * HEAD_DIM + k]));
    yt[h * HEAD_DIM + k] = y;
    if (cache_row)
      cache_row[h * HEAD_DIM + k] = from_f<TC>(to_f(y));
  }
}

// One token per blockIdx.y, one rotated pair or copied element per thread.
template <int HEADS, int HEAD_DIM, int ROT_DIM, bool INTERLEAVED, typename TX,
          typename TO, int OFFSET = 0, bool FP32 = false>
__device__ __forceinline__ void rope(const TX *x, const int *positions,
                                     TO *out, const float *inv_freq,
                                     float scaling) {
  rope_index<HEADS, HEAD_DIM, ROT_DIM, INTERLEAVED, TX, TO, TO, OFFSET, FP32>(
      int(blockIdx.x * blockDim.x + threadIdx.x), int(blockIdx.y), x,
      positions, out, (TO *)nullptr, inv_freq, scaling);
}

// RoPE of the queries and keys and the KV-cache write in one launch: the
// first HQ * PER_HEAD threads rotate the queries, the next HK * PER_HEAD the
// keys (into k_out and the cache), the next HK * HEAD_DIM copy the values
// into the cache; token t at row llmc_kv_row(cache, slots[t],
// positions[t]), as kv_cache_write.
template <int HQ, int HK, int HEAD_DIM, int ROT_DIM, bool INTERLEAVED,
          typename TQ, typename TQO, typename TK, typename TKO, typename TV,
          typename TC>
__device__ __forceinline__ void
rope_kv_cache_write(const TQ *q, TQO *q_out, const TK *k, TKO *k_out,
                    const TV *v, llmc_kv cache, const int *slots,
                    const int *positions, const float *inv_freq,
                    float scaling) {
  constexpr int PER_HEAD = ROT_DIM / 2 + (HEAD_DIM - ROT_DIM);
  constexpr int ROW = HK * HEAD_DIM;
  const int t = blockIdx.y;
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < HQ * PER_HEAD) {
    rope_index<HQ, HEAD_DIM, ROT_DIM, INTERLEAVED, TQ, TQO, TC>(
        i, t, q, positions, q_out, (TC *)nullptr, inv_freq, scaling);
    return;
  }
  i -= HQ * PER_HEAD;
  const size_t row = llmc_kv_row(cache, slots[t], positions[t]);
  if (i < HK * PER_HEAD) {
    rope_index<HK, HEAD_DIM, ROT_DIM, INTERLEAVED, TK, TKO, TC>(
        i, t, k, positions, k_out, static_cast<TC *>(cache.keys) + row * ROW,
        inv_freq, scaling);
    return;
  }
  i -= HK * PER_HEAD;
  if (i < ROW)
    static_cast<TC *>(cache.values)[row * ROW + i] =
        from_f<TC>(to_f(v[size_t(t) * ROW + i]));
}

// Stores token t's keys and values at row llmc_kv_row(cache, slots[t],
// positions[t]) of the cache, unless a later token of the T takes that row
// of a ring (llmc_kv_stored).
template <int ROW, typename TK, typename TV, typename TC>
__device__ __forceinline__ void kv_cache_write(int T, const TK *keys,
                                               const TV *values,
                                               llmc_kv cache,
                                               const int *slots,
                                               const int *positions) {
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= ROW || !llmc_kv_stored(cache, t, T, slots))
    return;
  const size_t row = llmc_kv_row(cache, slots[t], positions[t]);
  static_cast<TC *>(cache.keys)[row * ROW + i] =
      from_f<TC>(to_f(keys[size_t(t) * ROW + i]));
  static_cast<TC *>(cache.values)[row * ROW + i] =
      from_f<TC>(to_f(values[size_t(t) * ROW + i]));
}

// kv_cache_write for an FP8 cache: one warp per (token, KV head, keys or
// values): the head's D elements (the activation rounded to its type) are
// scaled by s = max|x| / 448 (1 when all are 0), rounded to E4M3 codes
// (e4m3_from_f) and stored with s beside the row. Blocks of 4 warps over
// the 2 * KV_HEADS heads of a token (keys first), tokens on the y axis.
template <int KV_HEADS, int D, typename TK, typename TV>
__device__ __forceinline__ void kv_cache_write_e4m3(const TK *keys,
                                                    const TV *values,
                                                    llmc_kv cache,
                                                    const int *slots,
                                                    const int *positions) {
  constexpr int DPL = (D + 31) / 32;
  const int lane = threadIdx.x % 32;
  const int t = blockIdx.y;
  const int w = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (w >= 2 * KV_HEADS)
    return; // a whole warp
  const bool is_key = w < KV_HEADS;
  const int h = is_key ? w : w - KV_HEADS;
  const size_t head = llmc_kv_row(cache, slots[t], positions[t]) * KV_HEADS + h;
  float x[DPL];
  float amax = 0.0f;
#pragma unroll
  for (int d = 0; d < DPL; ++d) {
    const int e = lane + 32 * d;
    const size_t src = (size_t(t) * KV_HEADS + h) * D + e;
    x[d] = e < D ? (is_key ? to_f(keys[src]) : to_f(values[src])) : 0.0f;
    amax = fmaxf(amax, fabsf(x[d]));
  }
  const float s = e4m3_scale(warp_max(amax));
  unsigned char *codes =
      static_cast<unsigned char *>(is_key ? cache.keys : cache.values) +
      head * D;
#pragma unroll
  for (int d = 0; d < DPL; ++d) {
    const int e = lane + 32 * d;
    if (e < D)
      codes[e] = (unsigned char)e4m3_from_f(x[d] / s);
  }
  if (lane == 0)
    (is_key ? cache.key_scales : cache.value_scales)[head] = s;
}
