// prelude.cuh - what every generated llmc kernel starts with: element types,
// conversions with the CPU reference's rounding, and reductions.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#define LLMC_INF __int_as_float(0x7f800000)

typedef __nv_bfloat16 bf16;
typedef __half f16;

// The block's dynamic shared memory (the call's dynamic_shared bytes), as a
// 16-byte aligned `unsigned char *name`; the emulator (test/emulation)
// hands each block a buffer of the launch's size.
#ifdef LLMC_EMULATION
#define LLMC_DYNAMIC_SHARED(name) unsigned char *name = ::llmc_emu::dynamicShared()
#else
#define LLMC_DYNAMIC_SHARED(name) extern __shared__ __align__(16) unsigned char name[]
#endif

// A KVCache operand (runtime/schema/KernelABI.h): keys and values of one
// layer in pages of 1 << page_shift rows, [pages, rows, kv_heads, head_dim]
// each; for an FP8 cache also their f32 scales, [pages, rows, kv_heads]
// each (else null); the page tables of the sequences, table_pages entries
// each; and the positions a sequence keeps (capacity).
struct llmc_kv { void *keys; void *values; int capacity; float *key_scales; float *value_scales; const int *page_table; int table_pages; int page_shift; };

// The row of the cache that holds position `pos` of sequence `slot`: row
// r % P of page table[slot][r / P] with r = pos % capacity, P the page's
// rows (a windowed layer keeps a ring of capacity positions).
__device__ __forceinline__ size_t llmc_kv_row(const llmc_kv &kv, int slot,
                                              int pos) {
  const int r = pos % kv.capacity;
  const int page =
      kv.page_table[slot * kv.table_pages + (r >> kv.page_shift)];
  return (size_t(page) << kv.page_shift) +
         size_t(r & ((1 << kv.page_shift) - 1));
}

// Whether token t of a step is stored in the cache: not when a later token
// of its sequence in the step takes the same ring row (a step may write
// more positions than a ring keeps; tokens of a sequence are consecutive).
__device__ __forceinline__ bool llmc_kv_stored(const llmc_kv &kv, int t,
                                               int T, const int *slots) {
  return t + kv.capacity >= T || slots[t + kv.capacity] != slots[t];
}

// An FP8 E4M3 element of a KV cache (its code; the scale is kept beside
// the row, llmc_kv).
struct llmc_e4m3 { unsigned char bits; };

// The type a computation rounds to: T, or float when FP32 (a RoPE computed
// in fp32 and rounded once).
template <bool FP32, typename T> struct llmc_round_type { typedef T type; };
template <typename T> struct llmc_round_type<true, T> { typedef float type; };

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(bf16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f(f16 x) { return __half2float(x); }

template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 from_f<bf16>(float x) {
  return __float2bfloat16_rn(x);
}
template <> __device__ __forceinline__ f16 from_f<f16>(float x) {
  return __float2half_rn(x);
}

// x rounded to T (round to nearest even) and widened back.
template <typename T> __device__ __forceinline__ float round_to(float x) {
  return to_f(from_f<T>(x));
}

template <typename T> __device__ __forceinline__ T from_bits(unsigned short b);
template <> __device__ __forceinline__ bf16 from_bits<bf16>(unsigned short b) {
  return __ushort_as_bfloat16(b);
}
template <> __device__ __forceinline__ f16 from_bits<f16>(unsigned short b) {
  return __ushort_as_half(b);
}

// The bits of a 16-bit value (no type punning through memory).
__device__ __forceinline__ unsigned short to_bits(bf16 x) {
  return __bfloat16_as_ushort(x);
}
__device__ __forceinline__ unsigned short to_bits(f16 x) {
  return __half_as_ushort(x);
}

// Widens the 16 bytes at p (elements of T) into f[16 / sizeof(T)].
template <typename T>
__device__ __forceinline__ void unpack16(const void *p, float *f) {
  const uint4 u = *reinterpret_cast<const uint4 *>(p);
  const unsigned w[4] = {u.x, u.y, u.z, u.w};
  if constexpr (sizeof(T) == 4) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
      f[i] = __uint_as_float(w[i]);
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      f[2 * i] = to_f(from_bits<T>((unsigned short)(w[i] & 0xffffu)));
      f[2 * i + 1] = to_f(from_bits<T>((unsigned short)(w[i] >> 16)));
    }
  }
}

// Widens N elements of T at p into f; p is aligned to min(16, N * sizeof(T))
// bytes.
template <typename T, int N>
__device__ __forceinline__ void load_n(const T *p, float *f) {
  if constexpr ((N * sizeof(T)) % 16 == 0) {
#pragma unroll
    for (int i = 0; i < N; i += 16 / int(sizeof(T)))
      unpack16<T>(p + i, f + i);
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i)
      f[i] = to_f(p[i]);
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// The sum of v over the block's BLOCK threads, returned to every thread.
template <int BLOCK> __device__ __forceinline__ float block_sum(float v) {
  static_assert(BLOCK % 32 == 0 && BLOCK <= 1024, "whole warps");
  __shared__ float partial[BLOCK / 32];
  __shared__ float total;
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0)
    partial[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    float s = threadIdx.x < BLOCK / 32 ? partial[threadIdx.x] : 0.0f;
    s = warp_sum(s);
    if (threadIdx.x == 0)
      total = s;
  }
  __syncthreads();
  return total;
}

// Activations (ACT_*: plan_enums.cuh), in the CPU reference's formulas
// (runtime/src/cpu/Numerics.h).
template <int ACT> __device__ __forceinline__ float activate(float x) {
  if constexpr (ACT == ACT_SILU) {
    return x / (1.0f + expf(-x));
  } else if constexpr (ACT == ACT_GELU_TANH) {
    const float k = 0.7978845608028654f;
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
  } else {
    return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
  }
}

// gpt-oss's clamped SwiGLU of rounded gate g and up u, every step rounded
// to T (transformers' GptOssExperts._apply_gate).
template <typename T>
__device__ __forceinline__ float oai_swiglu(float g, float u, float limit,
                                            float alpha) {
  g = fminf(g, limit);
  u = fminf(fmaxf(u, -limit), limit);
  const float sig = round_to<T>(1.0f / (1.0f + expf(-round_to<T>(g * alpha))));
  const float glu = round_to<T>(g * sig);
  return round_to<T>(round_to<T>(u + 1.0f) * glu);
}

// An OCP FP8 E4M3 code ("fn": no infinities, 0x7F / 0xFF NaN) as a float:
// exact, as the CPU reference decodes it (cpu/Numerics.h).
__device__ __forceinline__ float e4m3_to_f(unsigned b) {
  const unsigned e = (b >> 3) & 15u, m = b & 7u;
  float v;
  if (e == 0)
    v = float(m) * 0x1p-9f;
  else if (e == 15 && m == 7)
    v = __int_as_float(0x7fc00000);
  else
    v = __uint_as_float(((e + 120u) << 23) | (m << 20));
  return (b & 0x80u) ? -v : v;
}

__device__ __forceinline__ float to_f(llmc_e4m3 x) { return e4m3_to_f(x.bits); }

// The E4M3 code nearest to x (ties to the even code), beyond +-448
// saturated to +-448, NaN to 0x7F with x's sign: as the CPU reference
// rounds (cpu/Numerics.h floatToF8e4m3).
__device__ __forceinline__ unsigned e4m3_from_f(float x) {
  const unsigned sign = (__float_as_uint(x) >> 24) & 0x80u;
  const float a = fabsf(x);
  if (!(a == a))
    return sign | 0x7fu;
  if (a >= 448.0f)
    return sign | 0x7eu;
  if (a < 0x1p-6f) // subnormal codes m * 2^-9 (m = 8 is 2^-6, code 8)
    return sign | unsigned(rintf(a * 0x1p9f));
  // a = m * 2^(e - 3), m in [8, 16] after rounding: a carry to 16 is the
  // next binade's first code.
  const int e = int((__float_as_uint(a) >> 23) & 0xffu) - 127;
  const float m = rintf(a * __uint_as_float(unsigned(130 - e) << 23));
  return sign | unsigned(8 * e + 48 + int(m));
}

// The scale of values quantized to E4M3 together (an FP8 cache's head, a
// group of FP8 activations), from their max |x|: max / 448, 1 when all are
// 0 (cpu/Numerics.h e4m3GroupScale).
__device__ __forceinline__ float e4m3_scale(float amax) {
  return amax > 0.0f ? amax / 448.0f : 1.0f;
}

// Whether a KV cache of element type T keeps per-head scales (FP8).
template <typename T> struct llmc_scaled_kv { static constexpr bool value = false; };
template <> struct llmc_scaled_kv<llmc_e4m3> { static constexpr bool value = true; };

// An OCP MX FP4 (E2M1) code (the low 4 bits of c) as a float: 0, 0.5, 1,
// 1.5, 2, 3, 4, 6, bit 3 the sign; exact, as cpu/Numerics.h decodes it.
__device__ __forceinline__ float e2m1_to_f(unsigned c) {
  const unsigned m = c & 7u;
  // 2^(e - 1) * (1 + m / 2) for e = m >> 1 > 0; m / 2 below.
  const float v = m < 2 ? 0.5f * float(m)
                        : __uint_as_float(((m >> 1) + 126u) << 23 |
                                          (m & 1u) << 22);
  return (c & 8u) ? -v : v;
}

// An OCP MX E8M0 scale byte as a float: 2^(b - 127), 0xFF NaN (b = 0:
// 2^-127, a subnormal).
__device__ __forceinline__ float e8m0_to_f(unsigned b) {
  if (b == 255u)
    return __int_as_float(0x7fc00000);
  return b == 0u ? __uint_as_float(0x00400000u) : __uint_as_float(b << 23);
}

// The encodings of quantized weights' codes (llm.qweight storage): FP8
// E4M3 (one per byte, f32 scales), MXFP4 E2M1 (two per byte, the
// lower-indexed in the low nibble, e8m0 scale bytes), signed int4 (two per
// byte, likewise) and int8.
constexpr int QFMT_E4M3 = 0;
constexpr int QFMT_E2M1 = 1;
constexpr int QFMT_I4 = 2;
constexpr int QFMT_I8 = 3;

template <int FMT, typename TS>
__device__ __forceinline__ float q_scale(TS s) {
  if constexpr (FMT == QFMT_E2M1)
    return e8m0_to_f(unsigned(s));
  else
    return to_f(s);
}

// The value of code i of the packed bytes b (FMT).
template <int FMT>
__device__ __forceinline__ float q_code(const unsigned char *b, int i) {
  if constexpr (FMT == QFMT_E4M3)
    return e4m3_to_f(b[i]);
  else if constexpr (FMT == QFMT_E2M1)
    return e2m1_to_f(unsigned(b[i / 2]) >> (4 * (i % 2)));
  else if constexpr (FMT == QFMT_I4)
    // The nibble moved to the top bits, then shifted down with its sign.
    return float(int(unsigned(b[i / 2]) << (i % 2 == 0 ? 28 : 24)) >> 28);
  else
    return float((signed char)b[i]);
}
