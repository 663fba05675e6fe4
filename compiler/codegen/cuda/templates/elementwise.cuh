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

// Rotates the first ROT_DIM elements of every head of token t by
// positions[t] * inv_freq[k]; cos and sin in fp32, times scaling, rounded to
// TX, every product rounded to TX (transformers' apply_rotary_pos_emb in the
// activation dtype). Thread i < HEADS * ROT_DIM / 2 rotates one pair; the
// next HEADS * (HEAD_DIM - ROT_DIM) threads copy the rest.
template <int HEADS, int HEAD_DIM, int ROT_DIM, bool INTERLEAVED, typename TX,
          typename TO>
__device__ __forceinline__ void rope(const TX *x, const int *positions,
                                     TO *out, const float *inv_freq,
                                     float scaling) {
  constexpr int HALF = ROT_DIM / 2;
  constexpr int PASS = HEAD_DIM - ROT_DIM;
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const TX *xt = x + size_t(t) * HEADS * HEAD_DIM;
  TO *yt = out + size_t(t) * HEADS * HEAD_DIM;
  if (i < HEADS * HALF) {
    const int h = i / HALF, k = i % HALF;
    const float angle = float(positions[t]) * inv_freq[k];
    const float c = round_to<TX>(cosf(angle) * scaling);
    const float s = round_to<TX>(sinf(angle) * scaling);
    const int i1 = INTERLEAVED ? 2 * k : k;
    const int i2 = INTERLEAVED ? 2 * k + 1 : k + HALF;
    const float x1 = to_f(xt[h * HEAD_DIM + i1]);
    const float x2 = to_f(xt[h * HEAD_DIM + i2]);
    yt[h * HEAD_DIM + i1] =
        from_f<TO>(round_to<TX>(x1 * c) + round_to<TX>(-x2 * s));
    yt[h * HEAD_DIM + i2] =
        from_f<TO>(round_to<TX>(x2 * c) + round_to<TX>(x1 * s));
  } else if (PASS > 0 && i < HEADS * HALF + HEADS * PASS) {
    const int j = i - HEADS * HALF;
    const int h = j / (PASS > 0 ? PASS : 1), k = ROT_DIM + j % (PASS > 0 ? PASS : 1);
    yt[h * HEAD_DIM + k] = from_f<TO>(to_f(xt[h * HEAD_DIM + k]));
  }
}

// Stores token t's keys and values at row slots[t] * capacity +
// positions[t] % capacity of the cache.
template <int ROW, typename TK, typename TV, typename TC>
__device__ __forceinline__ void kv_cache_write(const TK *keys,
                                               const TV *values,
                                               llmc_kv cache,
                                               const int *slots,
                                               const int *positions) {
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= ROW)
    return;
  const size_t row =
      size_t(slots[t]) * cache.capacity + positions[t] % cache.capacity;
  static_cast<TC *>(cache.keys)[row * ROW + i] =
      from_f<TC>(to_f(keys[size_t(t) * ROW + i]));
  static_cast<TC *>(cache.values)[row * ROW + i] =
      from_f<TC>(to_f(values[size_t(t) * ROW + i]));
}
