//===- Numerics.cpp - the vectorized inner loops of the CPU backend -------===//
//
// On x86-64 each loop is compiled twice, for the baseline and for AVX2, and
// the AVX2 version runs when the CPU has it. Both do the same operations in
// the same order, so results do not depend on the machine. (Dispatch is a
// plain branch rather than an ifunc/target_clones: ifunc resolvers run
// before sanitizer runtimes are initialized.)
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cpu/Numerics.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LLMC_DISPATCH_AVX2 1
#define LLMC_TARGET_AVX2 __attribute__((target("avx2")))
#endif
#define LLMC_ALWAYS_INLINE inline __attribute__((always_inline))

namespace llmc::runtime::cpu {

namespace P = llmc::plan;

namespace {

#if LLMC_DISPATCH_AVX2
bool hasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
/// Defines `name` to run `name##Body` built for AVX2 when the CPU has it.
#define LLMC_DISPATCHED(ret, name, params, args)                               \
  LLMC_TARGET_AVX2 ret name##Avx2 params { return name##Body args; }           \
  ret name params {                                                            \
    if (hasAvx2())                                                             \
      return name##Avx2 args;                                                  \
    return name##Body args;                                                    \
  }
#else
#define LLMC_DISPATCHED(ret, name, params, args)                               \
  ret name params { return name##Body args; }
#endif

constexpr size_t kLanes = 16;

LLMC_ALWAYS_INLINE void widenBf16Body(const uint16_t *src, float *dst,
                                      size_t n) {
  for (size_t i = 0; i < n; ++i)
    dst[i] = bf16ToFloat(src[i]);
}

LLMC_ALWAYS_INLINE void narrowBf16Body(const float *src, uint16_t *dst,
                                       size_t n) {
  for (size_t i = 0; i < n; ++i)
    dst[i] = floatToBf16(src[i]);
}

/// 16 interleaved accumulators, summed in order at the end.
LLMC_ALWAYS_INLINE float dotBody(const float *a, const float *b, size_t n) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t j = 0; j < kLanes; ++j)
      acc[j] += a[i + j] * b[i + j];
  float sum = 0.0f;
  for (size_t j = 0; j < kLanes; ++j)
    sum += acc[j];
  for (; i < n; ++i)
    sum += a[i] * b[i];
  return sum;
}

LLMC_ALWAYS_INLINE float sumSquaresBody(const float *x, size_t n) {
  return dotBody(x, x, n);
}

LLMC_ALWAYS_INLINE void axpyBody(float alpha, const float *x, float *y,
                                 size_t n) {
  for (size_t i = 0; i < n; ++i)
    y[i] += alpha * x[i];
}

LLMC_DISPATCHED(void, widenBf16, (const uint16_t *src, float *dst, size_t n),
                (src, dst, n))
LLMC_DISPATCHED(void, narrowBf16, (const float *src, uint16_t *dst, size_t n),
                (src, dst, n))

} // namespace

LLMC_DISPATCHED(float, dot, (const float *a, const float *b, size_t n),
                (a, b, n))
LLMC_DISPATCHED(float, sumSquares, (const float *x, size_t n), (x, n))
LLMC_DISPATCHED(void, axpy, (float alpha, const float *x, float *y, size_t n),
                (alpha, x, y, n))

void widen(const void *src, P::DType dtype, float *dst, size_t n) {
  switch (dtype) {
  case P::DType::BF16:
    widenBf16(static_cast<const uint16_t *>(src), dst, n);
    return;
  case P::DType::F16: {
    const auto *h = static_cast<const uint16_t *>(src);
    for (size_t i = 0; i < n; ++i)
      dst[i] = f16ToFloat(h[i]);
    return;
  }
  case P::DType::F8E4M3: {
    const auto *b = static_cast<const uint8_t *>(src);
    for (size_t i = 0; i < n; ++i)
      dst[i] = f8e4m3ToFloat(b[i]);
    return;
  }
  case P::DType::I8: {
    const auto *b = static_cast<const int8_t *>(src);
    for (size_t i = 0; i < n; ++i)
      dst[i] = float(b[i]);
    return;
  }
  case P::DType::I4: {
    // Two's complement nibbles, element 2j in the low nibble of byte j:
    // each byte's pair from a table.
    static const auto pairs = [] {
      std::array<std::array<float, 2>, 256> t{};
      for (unsigned b = 0; b < 256; ++b)
        for (unsigned h = 0; h < 2; ++h) {
          const unsigned nibble = (b >> (4 * h)) & 0xfu;
          t[b][h] = float(int(nibble) - int((nibble & 8u) << 1));
        }
      return t;
    }();
    const auto *b = static_cast<const uint8_t *>(src);
    for (size_t j = 0; j < n / 2; ++j)
      std::memcpy(dst + 2 * j, pairs[b[j]].data(), 2 * sizeof(float));
    if (n % 2)
      dst[n - 1] = pairs[b[n / 2]][0];
    return;
  }
  case P::DType::F4E2M1: {
    const auto *b = static_cast<const uint8_t *>(src);
    for (size_t i = 0; i < n; ++i)
      dst[i] = f4e2m1ToFloat(uint8_t(b[i / 2] >> (4 * (i % 2))));
    return;
  }
  case P::DType::E8M0: {
    const auto *b = static_cast<const uint8_t *>(src);
    for (size_t i = 0; i < n; ++i)
      dst[i] = e8m0ToFloat(b[i]);
    return;
  }
  default:
    std::memmove(dst, src, n * sizeof(float));
    return;
  }
}

void narrow(const float *src, P::DType dtype, void *dst, size_t n) {
  switch (dtype) {
  case P::DType::BF16:
    narrowBf16(src, static_cast<uint16_t *>(dst), n);
    return;
  case P::DType::F16: {
    auto *h = static_cast<uint16_t *>(dst);
    for (size_t i = 0; i < n; ++i)
      h[i] = floatToF16(src[i]);
    return;
  }
  default:
    std::memmove(dst, src, n * sizeof(float));
    return;
  }
}

} // namespace llmc::runtime::cpu
