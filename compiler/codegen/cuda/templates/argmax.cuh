
// ---- argmax.cuh: greedy sampling on the device ----------------------------
// The token of each logits row with the highest logit, the lowest id among
// equal maxima (as llmc_sample's greedy mode), -1 for a row holding a NaN
// (which llmc_sample rejects). Two launches:
//   argmax_partial  grid (SPLITS, T): each block reduces one slice of the
//                   row to a packed key;
//   argmax_final    grid (T), one warp: reduces the row's SPLITS keys.
// The key orders (logit, -id) as one unsigned 64-bit integer: the logit's
// bits mapped to an order-preserving unsigned (-0 taken as +0), then the
// complemented id, so that the maximum key is the maximum logit at the
// lowest id; a NaN's key is all ones and beats every logit.

__device__ __forceinline__ unsigned long long argmax_key(float v, int id) {
  if (v != v)
    return ~0ull;
  unsigned u = v == 0.0f ? 0u : __float_as_uint(v);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ((unsigned long long)u << 32) | (0xffffffffu - unsigned(id));
}

__device__ __forceinline__ unsigned long long
warp_max_key(unsigned long long k) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    unsigned long long other = __shfl_xor_sync(0xffffffffu, k, o);
    k = other > k ? other : k;
  }
  return k;
}

// Every real key is above 0: the order-preserving bits of -inf are
// 0x007fffff.
template <int VOCAB, int SPLITS, int BLOCK, typename LT>
__device__ __forceinline__ void
argmax_partial(int num_tokens, const LT *__restrict__ logits,
               unsigned long long *__restrict__ partial) {
  static_assert(BLOCK % 32 == 0 && BLOCK <= 1024, "whole warps");
  constexpr int CHUNK = (VOCAB + SPLITS - 1) / SPLITS;
  const int split = blockIdx.x, t = blockIdx.y;
  if (t >= num_tokens)
    return;
  const LT *row = logits + (size_t)t * VOCAB;
  const int begin = split * CHUNK;
  const int end = begin + CHUNK < VOCAB ? begin + CHUNK : VOCAB;
  unsigned long long best = 0;
  for (int i = begin + int(threadIdx.x); i < end; i += BLOCK) {
    unsigned long long k = argmax_key(to_f(row[i]), i);
    best = k > best ? k : best;
  }
  __shared__ unsigned long long warps[BLOCK / 32];
  best = warp_max_key(best);
  if (threadIdx.x % 32 == 0)
    warps[threadIdx.x / 32] = best;
  __syncthreads();
  if (threadIdx.x < 32) {
    best = threadIdx.x < BLOCK / 32 ? warps[threadIdx.x] : 0ull;
    best = warp_max_key(best);
    if (threadIdx.x == 0)
      partial[(size_t)t * SPLITS + split] = best;
  }
}

template <int SPLITS>
__device__ __forceinline__ void
argmax_final(int num_tokens, const unsigned long long *__restrict__ partial,
             int *__restrict__ tokens) {
  const int t = blockIdx.x;
  if (t >= num_tokens)
    return;
  unsigned long long best = 0;
  for (int s = int(threadIdx.x); s < SPLITS; s += 32) {
    unsigned long long k = partial[(size_t)t * SPLITS + s];
    best = k > best ? k : best;
  }
  best = warp_max_key(best);
  if (threadIdx.x == 0)
    tokens[t] = (best >> 32) == 0xffffffffull
                    ? -1
                    : int(0xffffffffu - unsigned(best & 0xffffffffull));
}

// A kernel.call passes operands only, never casts: the partial keys live in
// scratch that calls address as float pointers, so these forward them with
// the key type.
template <int VOCAB, int SPLITS, int BLOCK, typename LT>
__device__ __forceinline__ void
argmax_partial(int num_tokens, const LT *__restrict__ logits,
               float *__restrict__ partial) {
  argmax_partial<VOCAB, SPLITS, BLOCK, LT>(
      num_tokens, logits, reinterpret_cast<unsigned long long *>(partial));
}

template <int SPLITS>
__device__ __forceinline__ void
argmax_final(int num_tokens, const float *__restrict__ partial,
             int *__restrict__ tokens) {
  argmax_final<SPLITS>(
      num_tokens, reinterpret_cast<const unsigned long long *>(partial),
      tokens);
}
